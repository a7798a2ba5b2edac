#!/usr/bin/env python3
"""Pipecat's side of waihu's turn benchmark (`bench/src/bin/turn.rs` runs it).

The same phone turn as waihu's side, with the same engines of fixed latency,
through Pipecat 1.x's own processors:

    In (20 ms frames, real time) -> FakeSTT
      -> user aggregator (Silero VAD, stop_secs 0.2; the turn ends at the
         VAD's stop once the final transcript is in)
      -> FakeLLM -> FakeTTS (Pipecat's default sentence aggregation)
      -> Out (plays like a phone line: a frame takes its duration)
      -> assistant aggregator

Engines (the issue's):
    STT  final transcript 100 ms after the VAD's end of speech reaches it;
    LLM  first token 200 ms after the context reaches it, then one character
         of REPLY every 20 ms;
    TTS  first audio 100 ms after a request's text reaches it, then 200 ms of
         a 220 Hz tone per character (as waihu's fake TTS), in 20 ms frames.

The callee (as waihu's side): real speech from espeak-ng's Mandarin voice on
an 8 kHz line (or the very WAVs `turn` wrote, --audio-dir), faint line hiss in
between, resampled to the pipeline's rate (Pipecat's default 16 kHz, as its
telephony serializers do) and pushed in 20 ms frames in real time.
Each turn: 0.8 s of hiss; the answer 对，是我，请说。; 1 s into the reply a
lone 嗯, 对 or 好 (in turn, under 250 ms of voice); 3 s into it (and at least
1 s after the acknowledgement) the interruption 等一下，我有个问题; 1.5 s of
hiss. The fake LLM answers the answer only, as waihu's session does.

Per turn:
    (a) e2e        last voiced frame of the answer pushed -> first TTS audio
                   frame handed to the output transport (write_audio_frame);
    (b) overhead   first TTS audio frame - the VAD's end-of-speech decision
                   - the engines' time (STT 100 + LLM 200 + 20 per character
                   Pipecat waited for before its first sentence + TTS 100):
                   Pipecat's own time after the VAD's end of speech;
    barge-in       first voiced frame of the interruption pushed -> end of
                   the AI's last audio frame written (write time + length);
    false stops    acknowledgements after which an interruption reached the
                   output transport (the AI stopped).

"Voiced" is a 20 ms frame at or above -45 dBFS RMS, as on waihu's side.
Percentiles are nearest-rank. One JSON object goes to --json FILE (else
stdout); the human summary to stdout (stderr when the JSON goes there).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field

import numpy as np
import soxr
from loguru import logger

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    StartFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings, STTSettings, TTSSettings
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.transcriptions.language import Language
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.utils.time import time_now_iso8601
from pipecat.workers.runner import WorkerRunner

# The fake LLM's reply, read by waihu's side from the JSON report: 30
# characters, commas before the first full stop (Pipecat's sentence
# aggregation waits for the 。 and the character after it, 17 tokens after
# the first; waihu's side starts speaking at the first comma).
REPLY = "好的，明白了，明天下午三点准时到。到时候见，您还有别的事吗？"

# The engines' fixed latencies, in seconds.
STOP_SECS = 0.2
STT_FINAL = 0.100
LLM_FIRST_TOKEN = 0.200
LLM_TOKEN_EVERY = 0.020
TTS_FIRST_AUDIO = 0.100

# The callee's script (as bench/src/turn/run.rs's FixedScript).
QUIET = 0.8
BACKCHANNEL_AFTER = 1.0
INTERRUPT_AFTER = 3.0
AFTER_BACKCHANNEL = 1.0
SETTLE = 1.5
REPLY_TIMEOUT = 5.0

# The callee's audio (as bench/src/turn/audio.rs): a phone line's 8 kHz.
LINE_RATE = 8000
FRAME_MS = 20
LINE_FRAME = LINE_RATE * FRAME_MS // 1000
VOICED_DBFS = -45.0
MAX_PAUSE_FRAMES = 6  # 120 ms: longer silences inside an utterance are shortened
BACKCHANNEL_MAX_MS = 240
VOICE = "cmn-latn-pinyin+f3"
ANSWER = ("对，是我，请说。", "dui4, shi4 wo3, qing3 shuo1.")
BACKCHANNELS = [("嗯", "en4"), ("对", "dui4"), ("好", "hao3")]
INTERRUPT = ("等一下，我有个问题", "deng3 yi2 xia4, wo3 you3 ge4 wen4 ti2")
# espeak-ng words per minute for waihu's speeds 50, 60, ... 100.
WPM = [175, 200, 225, 250, 275, 300]

now = time.monotonic


def check_reply(reply: str) -> None:
    comma, stop = reply.find("，"), reply.find("。")
    if len(reply) != 30 or comma < 0 or stop < 0 or comma > stop:
        raise SystemExit(f"REPLY must be 30 characters with a comma before the first 。: {reply!r}")


# ---------------------------------------------------------------------------
# The callee's audio
# ---------------------------------------------------------------------------


@dataclass
class Utterance:
    text: str
    pcm: np.ndarray  # at LINE_RATE, whole 20 ms frames, the first and the last voiced
    voiced: list[bool]  # per 20 ms frame

    @property
    def first_voiced(self) -> int:
        return self.voiced.index(True)

    @property
    def last_voiced(self) -> int:
        return len(self.voiced) - 1 - self.voiced[::-1].index(True)

    @property
    def voiced_span_ms(self) -> int:
        return (self.last_voiced - self.first_voiced + 1) * FRAME_MS

    def frames(self, rate: int) -> list[bytes]:
        """Its 20 ms frames at the pipeline's rate."""
        return frames_at(self.pcm, rate)


def frames_at(pcm: np.ndarray, rate: int) -> list[bytes]:
    """8 kHz audio in 20 ms frames at `rate` (as a telephony serializer resamples it)."""
    n = rate * FRAME_MS // 1000
    count = len(pcm) // LINE_FRAME
    if rate != LINE_RATE:
        pcm = soxr.resample(pcm, LINE_RATE, rate)
        pcm = np.concatenate([pcm, np.zeros(max(0, count * n - len(pcm)), np.int16)])
    return [pcm[i * n : (i + 1) * n].tobytes() for i in range(count)]


def is_voiced(frame: np.ndarray) -> bool:
    rms = math.sqrt(float(np.mean(frame.astype(np.float64) ** 2)))
    return rms > 0 and 20 * math.log10(rms / 32768) >= VOICED_DBFS


def utterance(text: str, pcm: np.ndarray) -> Utterance:
    """8 kHz audio in whole 20 ms frames, silence cut at both ends and shortened inside."""
    pcm = np.concatenate([pcm, np.zeros((-len(pcm)) % LINE_FRAME, np.int16)])
    frames = [pcm[i : i + LINE_FRAME] for i in range(0, len(pcm), LINE_FRAME)]
    voiced = [is_voiced(f) for f in frames]
    if not any(voiced):
        raise SystemExit(f"nothing audible in {text!r}")
    first, last = voiced.index(True), len(voiced) - 1 - voiced[::-1].index(True)
    kept, run = [], 0
    for f, v in zip(frames[first : last + 1], voiced[first : last + 1]):
        run = 0 if v else run + 1
        if run <= MAX_PAUSE_FRAMES:
            kept.append((f, v))
    return Utterance(text, np.concatenate([f for f, _ in kept]), [v for _, v in kept])


def read_wav(path: str) -> np.ndarray:
    """A 16-bit mono WAV, at LINE_RATE."""
    with wave.open(path) as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise SystemExit(f"{path}: 16-bit mono expected")
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    return pcm if rate == LINE_RATE else soxr.resample(pcm, rate, LINE_RATE)


def espeak(pinyin: str, wpm: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "say.wav")
        # As waihu's espeak-ng engine runs it (crates/speech/src/tts/espeak.rs).
        ssml = f'<speak><voice name="{VOICE}">{pinyin}</voice></speak>'
        cmd = ["espeak-ng", "-m", "-b", "1", "-v", VOICE, "-s", str(wpm), "-a", "100", "-w", path, ssml]
        try:
            subprocess.run(cmd, check=True, capture_output=True)
        except FileNotFoundError:
            raise SystemExit("espeak-ng is missing: bash scripts/install-test-deps.sh installs it")
        return read_wav(path)


def callee_audio(audio_dir: str | None):
    """The answer, the acknowledgements and the interruption, and where they came from."""
    if audio_dir:
        load = lambda name, text: utterance(text, read_wav(os.path.join(audio_dir, name)))
        answer = load("answer.wav", ANSWER[0])
        acks = [load(f"backchannel{i + 1}.wav", text) for i, (text, _) in enumerate(BACKCHANNELS)]
        interrupt = load("interrupt.wav", INTERRUPT[0])
        source = f"the WAVs in {audio_dir}"
    else:
        answer = utterance(ANSWER[0], espeak(ANSWER[1], WPM[0]))
        acks = []
        for text, pinyin in BACKCHANNELS:
            # Faster until it is voiced for less than BACKCHANNEL_MAX_MS.
            for wpm in WPM:
                u = utterance(text, espeak(pinyin, wpm))
                if u.voiced_span_ms < BACKCHANNEL_MAX_MS:
                    break
            acks.append(u)
        interrupt = utterance(INTERRUPT[0], espeak(INTERRUPT[1], WPM[0]))
        source = f"espeak-ng -v {VOICE}"
    for u in acks:
        if u.voiced_span_ms >= 250:
            raise SystemExit(f"the acknowledgement {u.text} is voiced for {u.voiced_span_ms} ms, not under 250")
    return answer, acks, interrupt, source


class Hiss:
    """The line's faint hiss between utterances (waihu's xorshift, +-3 LSB), 10 s looped."""

    def __init__(self, rate: int):
        x, out = 0x2545F491, np.empty(LINE_RATE * 10, np.int16)
        for i in range(len(out)):
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            out[i] = x % 7 - 3
        self._frames = frames_at(out, rate)
        self._next = 0

    def frame(self) -> bytes:
        self._next = (self._next + 1) % len(self._frames)
        return self._frames[self._next]


# ---------------------------------------------------------------------------
# What happened when (time.monotonic seconds)
# ---------------------------------------------------------------------------


@dataclass
class Marks:
    vad_starts: list[float] = field(default_factory=list)  # the VAD's decisions
    vad_stops: list[float] = field(default_factory=list)
    stt_vad_stop_rx: list[float] = field(default_factory=list)  # VAD stop reached the STT
    transcripts: list[float] = field(default_factory=list)  # final pushed
    contexts: list[float] = field(default_factory=list)  # LLM context received
    replies: list[dict] = field(default_factory=list)  # per answered context
    writes: list[tuple[float, float]] = field(default_factory=list)  # TTS audio written: (at, secs)
    interruptions: list[float] = field(default_factory=list)  # InterruptionFrame reached the output

    def after(self, xs: list[float], t: float) -> float | None:
        return next((x for x in xs if x >= t), None)

    def first_write_after(self, t: float) -> float | None:
        return next((w for w, _ in self.writes if w >= t), None)

    def audio_end(self, since: float) -> float | None:
        """The end of the last TTS frame written at or after `since`."""
        ends = [w + d for w, d in self.writes if w >= since]
        return max(ends) if ends else None


M: Marks


class StampedSilero(SileroVADAnalyzer):
    """Silero, noting when it decides speech started or stopped."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self._speaking = False

    async def analyze_audio(self, buffer: bytes) -> VADState:
        state = await super().analyze_audio(buffer)
        if state == VADState.SPEAKING and not self._speaking:
            self._speaking = True
            M.vad_starts.append(now())
        elif state == VADState.QUIET and self._speaking:
            self._speaking = False
            M.vad_stops.append(now())
        return state


# ---------------------------------------------------------------------------
# Transport
# ---------------------------------------------------------------------------


class In(BaseInputTransport):
    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        self.ready = asyncio.Event()

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)
        self.ready.set()


class Out(BaseOutputTransport):
    """A phone line: a frame written takes its duration to play."""

    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        self._line_free = 0.0

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if isinstance(frame, InterruptionFrame):
            M.interruptions.append(now())
        await super().process_frame(frame, direction)

    async def write_audio_frame(self, frame) -> bool:
        t = now()
        secs = len(frame.audio) / (2 * frame.sample_rate * frame.num_channels)
        if isinstance(frame, TTSAudioRawFrame):
            M.writes.append((t, secs))
        self._line_free = max(self._line_free, t) + secs
        await asyncio.sleep(max(0.0, self._line_free - now()))
        return True


class Line(BaseTransport):
    def __init__(self, params: TransportParams):
        super().__init__()
        self._in = In(params, name="line-in")
        self._out = Out(params, name="line-out")

    def input(self) -> In:
        return self._in

    def output(self) -> Out:
        return self._out


# ---------------------------------------------------------------------------
# Engines of fixed latency
# ---------------------------------------------------------------------------


class FakeSTT(STTService):
    """Streaming recognition whose final comes STT_FINAL after the VAD's stop."""

    def __init__(self, **kw):
        super().__init__(
            ttfs_p99_latency=STOP_SECS + STT_FINAL,
            settings=STTSettings(model=None, language=Language.ZH),
            **kw,
        )
        self.text = ""  # what the callee is saying (the driver tells it)
        self._final = None

    async def run_stt(self, audio: bytes):
        yield None  # audio taken; the final is pushed on its own schedule

    async def _push_final(self, text: str):
        await asyncio.sleep(STT_FINAL)
        self._final = None
        M.transcripts.append(now())
        await self.push_frame(TranscriptionFrame(text, "callee", time_now_iso8601(), finalized=True))

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            M.stt_vad_stop_rx.append(now())
            self._final = self.create_task(self._push_final(self.text), name="stt-final")
        elif isinstance(frame, VADUserStartedSpeakingFrame) and self._final:
            await self.cancel_task(self._final)
            self._final = None
        await super().process_frame(frame, direction)


class FakeLLM(LLMService):
    """REPLY, a character at a time, to the context after the callee's answer."""

    def __init__(self, **kw):
        settings = LLMSettings(
            model=None,
            system_instruction=None,
            temperature=None,
            max_tokens=None,
            top_p=None,
            top_k=None,
            frequency_penalty=None,
            presence_penalty=None,
            seed=None,
            filter_incomplete_user_turns=False,
            user_turn_completion_config=None,
            use_provider_thinking_default=False,
        )
        super().__init__(settings=settings, **kw)
        # Set by the driver once the callee's answer has been said: the first
        # context after the VAD's stop that follows it is the answer's. (Silero
        # may end a turn at a comma of the answer too; that part goes unanswered.)
        self.answer_end: float | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        t0 = now()
        M.contexts.append(t0)
        answering = self.answer_end is not None and M.after(M.vad_stops, self.answer_end) is not None
        if answering:
            self.answer_end = None
        reply = {"context": t0, "tokens": []}
        if answering:
            M.replies.append(reply)  # before the start frame, which the TTS reads it on
        await self.push_frame(LLMFullResponseStartFrame())
        try:
            if answering:
                for i, ch in enumerate(REPLY):
                    await asyncio.sleep(max(0.0, t0 + LLM_FIRST_TOKEN + i * LLM_TOKEN_EVERY - now()))
                    reply["tokens"].append(now())
                    await self._push_llm_text(ch)
        finally:
            await self.push_frame(LLMFullResponseEndFrame())


class FakeTTS(TTSService):
    """First audio TTS_FIRST_AUDIO after a request's text, then a tone."""

    def __init__(self, ms_per_char: int, **kw):
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model=None, voice=None, language=Language.ZH),
            **kw,
        )
        self._ms_per_char = ms_per_char
        self._tokens_in = 0  # LLM text frames of this response received so far
        self._reply: dict | None = None
        self._phase = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if isinstance(frame, LLMFullResponseStartFrame):
            self._tokens_in = 0
            self._reply = M.replies[-1] if M.replies and "tts_run" not in M.replies[-1] else None
        elif isinstance(frame, LLMTextFrame):
            self._tokens_in += 1
        await super().process_frame(frame, direction)

    def _tone(self, n: int) -> bytes:
        t = (np.arange(n) + self._phase) / self.sample_rate
        self._phase += n
        return (3277 * np.sin(2 * np.pi * 220 * t)).astype(np.int16).tobytes()  # -20 dBFS peak

    async def run_tts(self, text: str, context_id: str):
        start = now()
        if self._reply is not None and "tts_run" not in self._reply:
            # The first request of the reply, and the LLM token that released it.
            self._reply["tts_run"] = start
            self._reply["release_token"] = self._tokens_in - 1
            self._reply["first_text"] = text
        await asyncio.sleep(TTS_FIRST_AUDIO)
        if self._reply is not None and "tts_audio" not in self._reply:
            self._reply["tts_audio"] = now()
        audio = self._tone(self.sample_rate * self._ms_per_char * len(text.strip()) // 1000)
        step = self.sample_rate * FRAME_MS // 1000 * 2
        for i in range(0, len(audio), step):
            yield TTSAudioRawFrame(audio=audio[i : i + step], sample_rate=self.sample_rate, num_channels=1, context_id=context_id)


# ---------------------------------------------------------------------------
# The callee
# ---------------------------------------------------------------------------


class Callee:
    """Pushes 20 ms frames into the input transport on a real-time clock."""

    def __init__(self, inp: In, rate: int):
        self.inp, self.rate = inp, rate
        self.hiss = Hiss(rate)
        self._next = None
        self._frames: dict[int, list[bytes]] = {}

    async def push(self, pcm: bytes) -> float:
        self._next = now() if self._next is None else self._next
        await asyncio.sleep(max(0.0, self._next - now()))
        self._next += FRAME_MS / 1000
        t = now()
        await self.inp.push_audio_frame(InputAudioRawFrame(audio=pcm, sample_rate=self.rate, num_channels=1))
        return t

    async def say(self, u: Utterance) -> tuple[float, float]:
        """The instants its first and last voiced frames were pushed."""
        frames = self._frames.setdefault(id(u), u.frames(self.rate))
        at = [await self.push(f) for f in frames]
        return at[u.first_voiced], at[u.last_voiced]

    async def quiet_until(self, deadline: float, done=lambda: False):
        while now() < deadline and not done():
            await self.push(self.hiss.frame())


@dataclass
class Turn:
    e2e: float | None = None
    overhead: float | None = None
    vad_lag: float | None = None  # last voiced frame -> the VAD's stop
    split: int = 0  # the VAD's stops inside the answer (at its commas)
    release_token: int | None = None
    handoffs: dict = field(default_factory=dict)
    backchannel: str | None = None
    false_stop: bool = False
    barge_in: float | None = None
    problem: str | None = None


async def one_turn(i: int, callee: Callee, stt: FakeSTT, llm: FakeLLM, answer, acks, interrupt) -> Turn:
    t = Turn()
    quiet_from = now()
    await callee.quiet_until(quiet_from + QUIET)
    if M.first_write_after(quiet_from) is not None:
        t.problem = "AI audio while the callee was quiet"

    # The answer, and the reply's first audio.
    stt.text = answer.text
    first_voiced, last_voiced = await callee.say(answer)
    llm.answer_end = last_voiced
    t.split = sum(first_voiced < x < last_voiced for x in M.vad_stops)
    await callee.quiet_until(last_voiced + REPLY_TIMEOUT, lambda: M.first_write_after(last_voiced) is not None)
    first_out = M.first_write_after(last_voiced)
    if first_out is None:
        t.problem = f"no reply within {REPLY_TIMEOUT:.0f} s of the answer"
        return t
    t.e2e = first_out - last_voiced
    vad_stop = M.after(M.vad_stops, last_voiced)
    reply = M.replies[-1] if M.replies and M.replies[-1]["context"] > last_voiced else {}
    if vad_stop is not None and "tts_audio" in reply:
        k = reply["release_token"]
        engines = STT_FINAL + LLM_FIRST_TOKEN + k * LLM_TOKEN_EVERY + TTS_FIRST_AUDIO
        t.overhead = first_out - vad_stop - engines
        t.vad_lag = vad_stop - last_voiced
        t.release_token = k
        stt_rx = M.after(M.stt_vad_stop_rx, vad_stop)
        final = M.after(M.transcripts, vad_stop)
        ctx = reply["context"]
        t.handoffs = {
            "vad_stop_to_stt": stt_rx - vad_stop,
            "stt_timer_late": final - stt_rx - STT_FINAL,
            "final_to_llm_context": ctx - final,
            "llm_timers_late": reply["tokens"][k] - ctx - LLM_FIRST_TOKEN - k * LLM_TOKEN_EVERY,
            "release_token_to_run_tts": reply["tts_run"] - reply["tokens"][k],
            "tts_timer_late": reply["tts_audio"] - reply["tts_run"] - TTS_FIRST_AUDIO,
            "tts_audio_to_output": first_out - reply["tts_audio"],
        }
    else:
        t.problem = "no VAD stop or no LLM reply seen for the answer"

    # A lone acknowledgement, a while into the reply: the AI must go on.
    await callee.quiet_until(first_out + BACKCHANNEL_AFTER)
    if M.after(M.interruptions, last_voiced) is not None:
        t.problem = "the reply stopped before the acknowledgement"
        return t
    ack = acks[i % len(acks)]
    stt.text, t.backchannel = ack.text, ack.text
    ack_first, ack_last = await callee.say(ack)
    await callee.quiet_until(max(first_out + INTERRUPT_AFTER, ack_last + AFTER_BACKCHANNEL))
    if M.after(M.interruptions, ack_first) is not None:
        t.false_stop = True
        await callee.quiet_until(now() + SETTLE)
        return t
    if (M.audio_end(first_out) or 0) < now() - 0.1:
        t.problem = "the reply ended on its own before the interruption"

    # The interruption, over the AI.
    stt.text = interrupt.text
    barge_first, _ = await callee.say(interrupt)
    await callee.quiet_until(now() + SETTLE)
    stopped = M.audio_end(first_out)
    if M.after(M.interruptions, barge_first) is None:
        t.problem = "the AI did not stop for the interruption"
    elif stopped is None or stopped < barge_first:
        t.problem = "the AI stopped before the interruption was voiced"
    else:
        t.barge_in = stopped - barge_first
    return t


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def nearest_rank(xs: list[float], p: float) -> float | None:
    xs = sorted(xs)
    return xs[max(0, math.ceil(p / 100 * len(xs)) - 1)] if xs else None


def ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000, 2)


def figure(xs: list[float]) -> dict:
    ms = [round(x * 1000, 2) for x in xs]
    return {"n": len(ms), "p50": nearest_rank(ms, 50), "p99": nearest_rank(ms, 99), "samples": ms}


def show(f: dict) -> str:
    if not f["n"]:
        return "-"
    return f"p50 {f['p50']:7.1f}  p99 {f['p99']:7.1f}  min {min(f['samples']):7.1f}  max {max(f['samples']):7.1f} ms (n={f['n']})"


def report(args, turns: list[Turn], source: str, acks, wall: float) -> tuple[dict, str]:
    ok = [t for t in turns if t.e2e is not None]
    col = lambda name: [getattr(t, name) for t in ok if getattr(t, name) is not None]
    ks = sorted({t.release_token for t in ok if t.release_token is not None})
    k = ks[0] if len(ks) == 1 else None
    engines_ms = {
        "vad_stop": STOP_SECS * 1000,
        "stt_final": STT_FINAL * 1000,
        "llm_first_token": LLM_FIRST_TOKEN * 1000,
        "llm_token_every": LLM_TOKEN_EVERY * 1000,
        "llm_token_releasing_first_sentence": None if k is None else k + 1,
        "tts_first_audio": TTS_FIRST_AUDIO * 1000,
        "tts_ms_per_char": args.tts_ms_per_char,
    }
    tried = [t for t in ok if t.backchannel]
    by_word = {w: [sum(t.false_stop for t in tried if t.backchannel == w), sum(t.backchannel == w for t in tried)] for w in [a.text for a in acks]}
    names = list(dict.fromkeys(h for t in ok for h in t.handoffs))
    handoffs = {h: figure([t.handoffs[h] for t in ok if h in t.handoffs]) for h in names}
    version = importlib.metadata.version("pipecat-ai")
    out = {
        "framework": "pipecat",
        "version": version,
        "pipecat_version": version,
        "turns": len(ok),
        "warmup": args.warmup,
        "reply_text": REPLY,
        "sample_rate": args.rate,
        "callee_audio": source,
        "engines_ms": engines_ms,
        "e2e_ms": figure(col("e2e")),
        "overhead_ms": figure(col("overhead")),
        "barge_in_ms": figure(col("barge_in")),
        "backchannel_false_stops": sum(t.false_stop for t in tried),
        "backchannel_trials": len(tried),
        "backchannel_by_word": by_word,
        "vad_stop_lag_ms": figure(col("vad_lag")),
        "answers_split_by_vad": sum(t.split > 0 for t in turns),
        "per_turn": [
            {
                "e2e": ms(t.e2e),
                "overhead": ms(t.overhead),
                "vad_stop_lag": ms(t.vad_lag),
                "answer_split": t.split > 0,
                "backchannel": t.backchannel,
                "false_stop": t.false_stop,
                "barge_in": ms(t.barge_in),
                "problem": t.problem,
            }
            for t in turns
        ],
        "handoffs_ms": handoffs,
        "problems": [f"turn {i + 1}: {t.problem}" for i, t in enumerate(turns) if t.problem],
        "config": (
            f"Silero VAD stop_secs={STOP_SECS} (other VAD params default), user turn ends at the VAD stop once the "
            f"final transcript is in (SpeechTimeoutUserTurnStopStrategy, user_speech_timeout=0), Pipecat's default "
            f"sentence aggregation before TTS; {args.warmup} warm-up turn(s) not counted"
        ),
    }
    wait = f"token {k + 1}, {k * LLM_TOKEN_EVERY * 1000:.0f} ms after the first" if k is not None else f"varied: {ks}"
    lines = [
        f"pipecat-ai {version}: {len(ok)} turns (+{args.warmup} warm-up) in {wall:.0f} s; pipeline at {args.rate} Hz; callee: {source}",
        f"reply ({len(REPLY)} characters): {REPLY}",
        f"engines: STT {STT_FINAL * 1000:.0f} + LLM {LLM_FIRST_TOKEN * 1000:.0f} + first sentence released by "
        f"{wait} + TTS {TTS_FIRST_AUDIO * 1000:.0f} ms",
        f"(a) last voiced frame -> first AI audio out:    {show(out['e2e_ms'])}",
        f"    last voiced frame -> VAD's stop decision:    {show(out['vad_stop_lag_ms'])}",
        f"(b) after the VAD's stop, minus the engines:     {show(out['overhead_ms'])}",
    ]
    for h, f in handoffs.items():
        lines.append(f"      {h:28s} {show(f)}")
    lines += [
        f"barge-in: first voiced frame -> AI audio stopped: {show(out['barge_in_ms'])}",
        f"acknowledgements that stopped the AI: {out['backchannel_false_stops']}/{out['backchannel_trials']} "
        f"({', '.join(f'{w} {n}/{of}' for w, (n, of) in by_word.items())}; voiced "
        f"{', '.join(f'{a.text} {a.voiced_span_ms} ms' for a in acks)})",
    ]
    if out["answers_split_by_vad"]:
        lines.append(f"Silero ended a turn inside the answer (at a comma) in {out['answers_split_by_vad']} of {len(turns)} turns; "
                     "the reply is to the whole answer, timed from its last voiced frame")
    lines += [f"problem: {p}" for p in out["problems"]]
    return out, "\n".join(lines)


# ---------------------------------------------------------------------------


async def main():
    global M
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--turns", type=int, default=32, help="turns counted (default 32)")
    ap.add_argument("--warmup", type=int, default=1, help="turns run first and not counted (default 1)")
    ap.add_argument("--rate", type=int, choices=[8000, 16000], default=16000,
                    help="the pipeline's sample rate (default 16000, Pipecat's; the 8 kHz callee is resampled to it, as its telephony serializers do)")
    ap.add_argument("--audio-dir", help="take the callee's WAVs from here (answer.wav, backchannel1-3.wav, interrupt.wav, as `turn` writes them)")
    ap.add_argument("--tts-ms-per-char", type=int, default=200, help="fake TTS audio per character (default 200, as waihu's)")
    ap.add_argument("--json", help="write the JSON report here (default: stdout)")
    ap.add_argument("--log-level", default="WARNING", help="Pipecat's log level (default WARNING)")
    args = ap.parse_args()
    check_reply(REPLY)
    logger.remove()
    logger.add(sys.stderr, level=args.log_level)
    M = Marks()

    answer, acks, interrupt, source = callee_audio(args.audio_dir)

    line = Line(TransportParams(audio_in_enabled=True, audio_out_enabled=True, audio_in_sample_rate=args.rate, audio_out_sample_rate=args.rate))
    stt, llm, tts = FakeSTT(), FakeLLM(), FakeTTS(args.tts_ms_per_char)
    user, assistant = LLMContextAggregatorPair(
        LLMContext([{"role": "system", "content": "你是电话助理。"}]),
        user_params=LLMUserAggregatorParams(
            vad_analyzer=StampedSilero(params=VADParams(stop_secs=STOP_SECS)),
            user_turn_strategies=UserTurnStrategies(stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.0)]),
        ),
    )
    pipeline = Pipeline([line.input(), stt, user, llm, tts, line.output(), assistant])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=args.rate, audio_out_sample_rate=args.rate),
        idle_timeout_secs=None,
    )
    turns: list[Turn] = []

    async def drive():
        await line.input().ready.wait()
        callee = Callee(line.input(), args.rate)
        await callee.quiet_until(now() + 1.0)
        try:
            for i in range(args.warmup + args.turns):
                t = await one_turn(i, callee, stt, llm, answer, acks, interrupt)
                if t.problem:
                    print(f"turn {i + 1}: {t.problem}", file=sys.stderr)
                if i >= args.warmup:
                    turns.append(t)
        finally:
            await worker.cancel()

    started = now()
    driver = asyncio.create_task(drive())
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()
    await driver

    out, summary = report(args, turns, source, acks, now() - started)
    text = json.dumps(out, ensure_ascii=False)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print(summary)
    else:
        print(summary, file=sys.stderr)
        print(text)


if __name__ == "__main__":
    asyncio.run(main())
