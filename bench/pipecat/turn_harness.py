#!/usr/bin/env python3
"""The Pipecat side of waihu's turn benchmark (bench/src/bin/turn.rs runs it).

One phone turn, over and over, through Pipecat 1.x's own processors with
engines of fixed latency (the same as waihu's side):

  HarnessInput -> FakeSTT -> user aggregator (Silero VAD, stop 0.2 s)
    -> FakeLLM -> FakeTTS (Pipecat's default sentence aggregation)
    -> HarnessOutput (paced like a phone line) -> assistant aggregator

  STT  the final transcript 100 ms after the VAD's end of speech reaches it
  LLM  first token 200 ms after the context reaches it, then one character
       every 20 ms of REPLY (30 characters, a comma, the first full stop at
       character 18)
  TTS  first audio 100 ms after a turn's first text reaches run_tts(), then
       100 ms of tone per character in 20 ms frames

The callee's audio is real speech (espeak-ng, resampled to 16 kHz), pushed
in 20 ms frames in real time, silence between. Per turn:

  (a) e2e       the callee's last voiced frame pushed -> the first TTS audio
                frame handed to the output transport
  (b) overhead  (a) - stop_secs - STT - LLM first token - the wait for the
                first full stop (tokens before it x 20 ms) - TTS: Pipecat's
                own time after the VAD's end of speech
  barge-in      with the bot talking, the callee says something long: its
                first voiced frame -> the end of the last bot audio frame
                written before the interruption
  backchannel   before that, a lone 嗯 (under 250 ms): did it stop the bot?

Writes one JSON object (--json FILE, else stdout).
"""

import argparse
import asyncio
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np
from loguru import logger

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    StartFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair, LLMUserAggregatorParams
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
from pipecat.utils.types import is_given

REPLY = "好的，明天上午十点的会我一定准时到。还有别的需要我准备的吗？"
STOP_SECS = 0.2
STT_S, LLM_FIRST_S, LLM_TOKEN_S, TTS_S, TTS_CHAR_S = 0.100, 0.200, 0.020, 0.100, 0.100
RATE = 16000
FRAME = RATE // 50  # samples in 20 ms
now = time.monotonic


class Stamps:
    """What happened when (time.monotonic seconds)."""

    def __init__(self):
        self.first_out = None  # first TTS frame of the current response
        self.out_end = None  # end of the last TTS frame written (its write time + duration)
        self.interrupted = None  # InterruptionFrame reached the output
        self.stopped_at = None  # the end of the last bot frame written before it
        self.waiting = asyncio.Event()


S: Stamps


def settings(cls, **values):
    """A settings object with every field given (Pipecat 1.x wants them set)."""
    import dataclasses

    s = cls()
    for f in dataclasses.fields(s):
        if f.name != "extra" and not is_given(getattr(s, f.name)):
            setattr(s, f.name, values.get(f.name))
    return s


class In(BaseInputTransport):
    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        self.ready = asyncio.Event()

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)
        self.ready.set()


class Out(BaseOutputTransport):
    """Writes as a phone line plays: each frame takes its duration."""

    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        self.clock = 0.0

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if isinstance(frame, InterruptionFrame):
            # What was written and not yet played is gone, as on a real line.
            self.clock = now()
            if S.interrupted is None:
                S.interrupted = now()
                S.stopped_at = min(S.out_end, now()) if S.out_end else None
        await super().process_frame(frame, direction)

    async def write_audio_frame(self, frame) -> bool:
        t = now()
        secs = len(frame.audio) / (2 * frame.sample_rate)
        if isinstance(frame, TTSAudioRawFrame):
            if S.first_out is None:
                S.first_out = t
                S.waiting.set()
            S.out_end = t + secs
        self.clock = max(self.clock, t) + secs
        await asyncio.sleep(max(0.0, self.clock - now()))
        return True


class Line(BaseTransport):
    def __init__(self, params):
        super().__init__()
        self._in, self._out = In(params, name="in"), Out(params, name="out")

    def input(self):
        return self._in

    def output(self):
        return self._out


class FakeSTT(STTService):
    """A streaming recogniser whose final comes STT_S after the VAD's stop."""

    def __init__(self, **kw):
        super().__init__(settings=settings(STTSettings, language=Language.ZH), **kw)
        self._task = None

    async def run_stt(self, audio: bytes):
        yield None

    async def _final(self):
        await asyncio.sleep(STT_S)
        self._task = None
        await self.push_frame(TranscriptionFrame("对，是我，请说。", "", time_now_iso8601(), finalized=True))

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self._task = self.create_task(self._final(), name="final")
        elif isinstance(frame, VADUserStartedSpeakingFrame) and self._task:
            await self.cancel_task(self._task)
            self._task = None
        await super().process_frame(frame, direction)


class FakeLLM(LLMService):
    def __init__(self, **kw):
        super().__init__(settings=settings(LLMSettings, filter_incomplete_user_turns=False), **kw)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        t0 = now()
        await self.push_frame(LLMFullResponseStartFrame())
        try:
            for i, ch in enumerate(REPLY):
                await asyncio.sleep(max(0.0, t0 + LLM_FIRST_S + i * LLM_TOKEN_S - now()))
                await self._push_llm_text(ch)
        finally:
            await self.push_frame(LLMFullResponseEndFrame())


class FakeTTS(TTSService):
    def __init__(self, **kw):
        super().__init__(push_start_frame=True, push_stop_frames=True, settings=settings(TTSSettings, language=Language.ZH), **kw)
        self._started = set()

    async def run_tts(self, text: str, context_id: str):
        if context_id not in self._started:
            self._started.add(context_id)
            await asyncio.sleep(TTS_S)
        n = int(self.sample_rate * TTS_CHAR_S * len(text.strip()))
        tone = (3000 * np.sin(2 * np.pi * 300 * np.arange(n) / self.sample_rate)).astype(np.int16).tobytes()
        step = self.sample_rate // 50 * 2
        for i in range(0, len(tone), step):
            yield TTSAudioRawFrame(audio=tone[i : i + step], sample_rate=self.sample_rate, num_channels=1, context_id=context_id)


def speech(pinyin: str, wpm: int) -> np.ndarray:
    """espeak-ng's Mandarin at 16 kHz, trimmed, as int16."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.wav")
        subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-s", str(wpm), "-w", path, pinyin], check=True)
        with wave.open(path) as w:
            rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float64)
    x = np.interp(np.arange(0, len(pcm), rate / RATE), np.arange(len(pcm)), pcm)
    loud = np.nonzero(np.abs(x) > 300)[0]
    x = x[loud[0] : loud[-1] + 1]
    x = x * (0.7 * 32767 / np.max(np.abs(x)))
    return x.astype(np.int16)


def frames(pcm: np.ndarray):
    pcm = np.concatenate([pcm, np.zeros((-len(pcm)) % FRAME, np.int16)])
    fs = [pcm[i : i + FRAME] for i in range(0, len(pcm), FRAME)]
    # Voiced: at or above -45 dBFS (RMS 184), the rule of the Rust side (bench/src/turn/audio.rs).
    voiced = [i for i, f in enumerate(fs) if np.sqrt(np.mean(f.astype(np.float64) ** 2)) >= 32768 * 10 ** (-45 / 20)]
    return [f.tobytes() for f in fs], voiced[0], voiced[-1]


class Feeder:
    """Pushes 20 ms frames in real time."""

    def __init__(self, inp: In):
        self.inp, self.next = inp, None
        self.silence = bytes(FRAME * 2)

    async def push(self, pcm: bytes) -> float:
        self.next = now() if self.next is None else self.next
        await asyncio.sleep(max(0.0, self.next - now()))
        self.next += 0.020
        t = now()
        await self.inp.push_audio_frame(InputAudioRawFrame(audio=pcm, sample_rate=RATE, num_channels=1))
        return t

    async def say(self, utt):
        """Returns the instants of its first and last voiced frames."""
        fs, first, last = utt
        t_first = t_last = None
        for i, f in enumerate(fs):
            t = await self.push(f)
            t_first = t if i == first else t_first
            t_last = t if i == last else t_last
        return t_first, t_last

    async def quiet(self, secs: float, until: asyncio.Event = None):
        end = now() + secs
        while now() < end and not (until and until.is_set()):
            await self.push(self.silence)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(np.ceil(p / 100 * len(xs))) - 1))] if xs else None


def figure(xs):
    ms = [round(x * 1000, 2) for x in xs]
    return {"n": len(ms), "p50": pct(ms, 50), "p99": pct(ms, 99), "samples": ms}


async def drive(args, feeder, turn_utt, ack_utt, barge_utt, worker, out):
    e2e, barge, false_stops, trials = [], [], 0, 0
    await feeder.quiet(1.5)
    for turn in range(args.turns + args.warmup):
        S.first_out, S.interrupted, S.out_end = None, None, None
        S.waiting.clear()
        _, last_voiced = await feeder.say(turn_utt)
        await feeder.quiet(8.0, until=S.waiting)
        if S.first_out is None:
            print(f"turn {turn}: no answer", file=sys.stderr)
            continue
        if turn >= args.warmup:
            e2e.append(S.first_out - last_voiced)
        # The bot talks (3 s of reply): a lone 嗯 first, then real speech.
        await feeder.quiet(0.4)
        S.interrupted = None
        await feeder.say(ack_utt)
        await feeder.quiet(0.7)
        if turn >= args.warmup:
            trials += 1
            false_stops += S.interrupted is not None
        if S.interrupted is None:
            first_voiced, _ = await feeder.say(barge_utt)
            await feeder.quiet(1.0, until=None)
            if turn >= args.warmup and S.stopped_at is not None:
                barge.append(S.stopped_at - first_voiced)
        await feeder.quiet(4.0)
    first_stop = REPLY.index("。")
    engines = STOP_SECS + STT_S + LLM_FIRST_S + first_stop * LLM_TOKEN_S + TTS_S
    out.update(
        e2e_ms=figure(e2e),
        overhead_ms=figure([x - engines for x in e2e]),
        barge_in_ms=figure(barge),
        backchannel_false_stops=false_stops,
        backchannel_trials=trials,
        engine_ms=round(engines * 1000, 1),
    )
    await worker.cancel()


async def main():
    global S
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--turns", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    S = Stamps()

    turn_utt = frames(speech("dui4, shi4 wo3, qing3 shuo1.", 170))
    ack_utt = frames(speech("en4", 260))
    barge_utt = frames(speech("deng3 yi2 xia4, wo3 you3 ge4 wen4 ti2.", 170))
    ack_ms = (ack_utt[2] - ack_utt[1] + 1) * 20

    vad = SileroVADAnalyzer(params=VADParams(stop_secs=STOP_SECS))
    params = TransportParams(audio_in_enabled=True, audio_out_enabled=True, audio_in_sample_rate=RATE, audio_out_sample_rate=RATE)
    line = Line(params)
    user_params = LLMUserAggregatorParams(
        vad_analyzer=vad, user_turn_strategies=UserTurnStrategies(stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.0)])
    )
    user, assistant = LLMContextAggregatorPair(LLMContext([{"role": "system", "content": "电话助理"}]), user_params=user_params)
    pipeline = Pipeline([line.input(), FakeSTT(), user, FakeLLM(), FakeTTS(), line.output(), assistant])
    worker = PipelineWorker(pipeline, params=PipelineParams(audio_in_sample_rate=RATE, audio_out_sample_rate=RATE), idle_timeout_secs=None)
    from pipecat.workers.runner import WorkerRunner

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    out = {
        "framework": "pipecat",
        "pipecat_version": importlib.metadata.version("pipecat-ai"),
        "turns": args.turns,
        "reply_text": REPLY,
        "config": f"Silero VAD stop_secs={STOP_SECS}, user turn ends at the VAD stop (speech timeout 0), "
        f"TTS sentence aggregation (Pipecat's default); the lone 嗯 is {ack_ms} ms of voice",
    }

    async def go():
        await line.input().ready.wait()
        await drive(args, Feeder(line.input()), turn_utt, ack_utt, barge_utt, worker, out)

    driver = asyncio.create_task(go())
    await runner.run()
    await driver
    text = json.dumps(out, ensure_ascii=False)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)
    s = lambda k: f"p50 {out[k]['p50']} / p99 {out[k]['p99']} ms (n {out[k]['n']})"
    print(f"pipecat {out['pipecat_version']}: (a) {s('e2e_ms')}; (b) {s('overhead_ms')}; barge-in {s('barge_in_ms')}; "
          f"嗯 stopped the bot {out['backchannel_false_stops']}/{out['backchannel_trials']}", file=sys.stderr)
    print(text)


if __name__ == "__main__":
    asyncio.run(main())
