//! What the engines that stream their audio share: a synthesis read a
//! piece at a time becomes a [`TtsStream`], and raw 16-bit samples are read
//! from bytes that may split a sample between two pieces.

use std::future::Future;

use super::{TtsError, TtsStream};

/// A synthesis whose audio is read a piece at a time (a pipe, an HTTP body,
/// a WebSocket).
pub(crate) trait AudioReader: Send + 'static {
    /// The next piece of 8 kHz audio, or `Ok(None)` at the end. After an
    /// error it is not asked again.
    fn next_chunk(&mut self) -> impl Future<Output = Result<Option<Vec<i16>>, TtsError>> + Send;
}

/// The stream of `reader`'s pieces: it ends at the reader's end or after
/// its first error. The reader is dropped with the stream, which is how a
/// barge-in cancels the synthesis.
pub(crate) fn read_stream(reader: impl AudioReader) -> TtsStream {
    Box::pin(futures_util::stream::unfold((reader, false), |(mut reader, failed)| async move {
        if failed {
            return None;
        }
        match reader.next_chunk().await {
            Ok(Some(pcm)) => Some((Ok(pcm), (reader, false))),
            Ok(None) => None,
            Err(e) => Some((Err(e), (reader, true))),
        }
    }))
}

/// Signed 16-bit little-endian samples from bytes that come in pieces of
/// any length: a piece may end inside a sample.
#[derive(Debug, Default)]
pub(crate) struct Le16Samples {
    /// The first byte of a sample split between two pieces.
    carry: Option<u8>,
}

impl Le16Samples {
    /// Appends the samples `bytes` complete to `out`.
    pub(crate) fn push(&mut self, bytes: &[u8], out: &mut Vec<i16>) {
        let mut rest = bytes;
        if let (Some(lo), Some((&hi, tail))) = (self.carry, rest.split_first()) {
            out.push(i16::from_le_bytes([lo, hi]));
            self.carry = None;
            rest = tail;
        }
        let pairs = rest.chunks_exact(2);
        if let [odd] = pairs.remainder() {
            self.carry = Some(*odd);
        }
        out.extend(pairs.map(|b| i16::from_le_bytes([b[0], b[1]])));
    }

    /// Whether half a sample is waiting for its other byte.
    #[cfg(test)]
    pub(crate) fn split(&self) -> bool {
        self.carry.is_some()
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[test]
    fn samples_split_across_pieces_are_joined() {
        let mut s = Le16Samples::default();
        let bytes: Vec<u8> = [1000i16, -2000, 3000].iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut out = Vec::new();
        for piece in [&bytes[..1], &bytes[1..4], &bytes[4..]] {
            s.push(piece, &mut out);
        }
        assert_eq!(out, [1000, -2000, 3000]);
        assert!(!s.split());
        s.push(&[7], &mut out);
        assert!(s.split());
    }

    struct Script(Vec<Result<Option<Vec<i16>>, TtsError>>);

    impl AudioReader for Script {
        async fn next_chunk(&mut self) -> Result<Option<Vec<i16>>, TtsError> {
            self.0.remove(0)
        }
    }

    #[tokio::test]
    async fn the_stream_ends_at_the_end_or_after_the_first_error() {
        let items = |s: Script| async move { read_stream(s).map(|r| r.map_err(|e| e.to_string())).collect::<Vec<_>>().await };
        let ok = Script(vec![Ok(Some(vec![1])), Ok(Some(vec![2])), Ok(None)]);
        assert_eq!(items(ok).await, [Ok(vec![1]), Ok(vec![2])]);
        let failed = Script(vec![Ok(Some(vec![1])), Err(TtsError::Timeout(5)), Ok(Some(vec![2]))]);
        assert_eq!(items(failed).await, [Ok(vec![1]), Err("speech engine timed out after 5 ms".to_string())]);
    }
}
