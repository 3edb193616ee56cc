//! Where a segment's body goes as it arrives: straight into its part (see
//! [`super::part`]), or, for an AES-128 segment, through its decryption
//! first ([`crate::decrypt::Decrypting`]), so that the format check and the
//! spool see the clear bytes as they come and no body is held whole.

use super::check::CheckError;
use super::part::{Part, PartError, Stored};
use super::Ledger;
use crate::decrypt::{DecryptError, Decrypting};
use crate::source::SegmentKey;

/// A segment's part, and its decryption when it is encrypted.
pub(super) struct Intake {
    part: Part,
    /// The decryption and the buffer of clear bytes it fills.
    sealed: Option<(Decrypting, Vec<u8>)>,
}

impl Intake {
    /// `announced` is the length of the body the answer announced: that
    /// of the clear segment, or at most that once decrypted.
    pub(super) fn new(
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
    pub(super) async fn write(&mut self, chunk: &[u8]) -> Result<(), PartError> {
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
    pub(super) async fn finish(mut self) -> Result<Stored, PartError> {
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
