//! Where a segment's body goes as it arrives: straight into its part (see
//! [`super::part`]), or, for an AES-128 segment, through its decryption
//! first ([`crate::media::decrypt::Decrypting`]), so that the format check and the
//! spool see the clear bytes as they come and no body is held whole.

use super::part::{Part, PartError, Stored};
use super::Ledger;
use crate::media::decrypt::{DecryptError, Decrypting};
use crate::media::CheckError;
use crate::plan::source::SegmentKey;

/// A segment's part, and its decryption when it is encrypted.
pub(crate) struct Intake {
    part: Part,
    /// The decryption and the buffer of clear bytes it fills.
    sealed: Option<(Decrypting, Vec<u8>)>,
}

impl Intake {
    /// `announced` is the length of the body the answer announced: that
    /// of the clear segment, or at most that once decrypted.
    pub(crate) fn new(
        ledger: &std::sync::Arc<Ledger>,
        (index, key): (u64, Option<&SegmentKey>),
        max: u64,
        announced: Option<u64>,
    ) -> Intake {
        match key {
            None => Intake {
                part: Part::new(ledger, index, max, announced),
                sealed: None,
            },
            Some(key) => Intake {
                part: Part::at_most(ledger, index, max, announced),
                sealed: Some((Decrypting::new(key), Vec::new())),
            },
        }
    }

    /// Takes the next bytes of the body.
    pub(crate) async fn write(&mut self, chunk: &[u8]) -> Result<(), PartError> {
        let Some((decrypting, clear)) = &mut self.sealed else {
            return self.part.write(chunk).await;
        };
        decrypting.update(chunk, clear);
        if clear.is_empty() {
            return Ok(());
        }
        self.part.write(clear).await.map_err(not_decrypted)
    }

    /// The body has ended: its last bytes decrypted and the padding cut,
    /// then the part checked whole and saved.
    pub(crate) async fn finish(mut self) -> Result<Stored, PartError> {
        if let Some((decrypting, _)) = self.sealed {
            let last = decrypting.finish().map_err(invalid)?;
            self.part.write(&last).await.map_err(not_decrypted)?;
        }
        self.part.finish().await
    }
}

fn invalid(e: DecryptError) -> PartError {
    PartError::Invalid(e.to_string())
}

/// Decrypted bytes that are not a segment from the first: the key is
/// wrong, most likely (said so rather than "binary data").
fn not_decrypted(e: PartError) -> PartError {
    match e {
        PartError::Check(e @ CheckError::NotMedia { .. }) => {
            invalid(DecryptError::NotMedia(e.to_string()))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::super::part::spill_path;
    use super::*;
    use crate::media::TS_SYNC;
    use aes::cipher::{block_padding::Pkcs7, BlockModeEncrypt, KeyIvInit};
    use std::sync::Arc;

    const KEY: SegmentKey = SegmentKey {
        key: [5; 16],
        iv: [9; 16],
    };

    /// TS packets, ~1 MB: past what a part keeps in memory.
    fn plain() -> Vec<u8> {
        let mut packet = [0u8; 188];
        packet[..4].copy_from_slice(&[TS_SYNC, 0x41, 0x00, 0x10]);
        packet.repeat(5_555)
    }

    fn sealed(plain: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; plain.len() / 16 * 16 + 16];
        cbc::Encryptor::<aes::Aes128>::new(&KEY.key.into(), &KEY.iv.into())
            .encrypt_padded_b2b::<Pkcs7>(plain, &mut buf)
            .unwrap()
            .to_vec()
    }

    /// `body` taken in chunks of `size` under `key`: what was stored, or
    /// why not.
    async fn take(body: &[u8], key: &SegmentKey, size: usize) -> Result<Vec<u8>, String> {
        let tmp = tempfile::tempdir().unwrap();
        let l = Arc::new(Ledger::open(tmp.path(), &tmp.path().join("job"), "id", false).unwrap());
        let n = Some(body.len() as u64);
        let mut intake = Intake::new(&l, (7, Some(key)), u64::MAX, n);
        let why = |e: PartError| match e {
            PartError::Invalid(why) => why,
            _ => "another error".into(),
        };
        for chunk in body.chunks(size) {
            intake.write(chunk).await.map_err(why)?;
        }
        // Written into the spool as it came, no `.part` file first.
        assert!(!spill_path(l.dir(), 7).exists());
        let stored = intake.finish().await.map_err(why)?;
        let mut buf = vec![0; stored.saved.size as usize];
        l.spool().read_at(stored.saved.offset, &mut buf).unwrap();
        assert_eq!(l.landed(), (1, buf.len() as u64));
        Ok(buf)
    }

    #[tokio::test]
    async fn an_encrypted_body_is_stored_clear_as_it_arrives() {
        let (plain, body) = (plain(), sealed(&plain()));
        for size in [1000, 16, 65_536 + 3] {
            assert_eq!(take(&body, &KEY, size).await, Ok(plain.clone()), "{size}");
        }
    }

    #[tokio::test]
    async fn a_wrong_key_a_bad_padding_and_a_cut_body_are_refused_as_before() {
        let body = sealed(&plain());
        let wrong = SegmentKey {
            key: [6; 16],
            ..KEY
        };
        let why = take(&body, &wrong, 4096).await.unwrap_err();
        let start = "it does not decrypt to a segment with its AES-128 key: ";
        assert!(why.starts_with(start), "{why}");
        let mut bad = body.clone();
        *bad.last_mut().unwrap() ^= 1;
        let why = take(&bad, &KEY, 4096).await.unwrap_err();
        assert_eq!(
            why,
            "it does not decrypt with its AES-128 key (bad padding)"
        );
        let cut = &body[..body.len() - 3];
        let why = take(cut, &KEY, 4096).await.unwrap_err();
        let n = cut.len();
        assert_eq!(
            why,
            format!("{n} bytes is not a whole number of 16-byte AES blocks")
        );
    }
}
