//! AES-128 (CBC, PKCS#7) decryption of HLS segments, `EXT-X-KEY`
//! METHOD=AES-128, with the RustCrypto `aes` and `cbc` crates.
//!
//! A segment is decrypted as its bytes arrive ([`Decrypting`]): every
//! whole block but the last is given back at once, the last (which holds
//! the padding) when the body ends, so that a segment of any size holds at
//! most one block here. [`decrypt`] is the same on a whole body.

use aes::cipher::{block_padding::Pkcs7, Array, Block, BlockModeDecrypt, KeyIvInit};

use crate::plan::source::SegmentKey;

type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// Why a segment does not decrypt, or an `IV` attribute does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("{0} bytes is not a whole number of 16-byte AES blocks")]
    NotWholeBlocks(u64),
    #[error("it does not decrypt with its AES-128 key (bad padding)")]
    BadPadding,
    /// Its first decrypted bytes are not a segment (a wrong key, most
    /// likely): what the format check said of them.
    #[error("it does not decrypt to a segment with its AES-128 key: {0}")]
    NotMedia(String),
    #[error("the IV `{0}` does not start with 0x")]
    IvPrefix(String),
    #[error("the IV `{0}` is not 1 to 32 hex digits")]
    IvLength(String),
    #[error("the IV `{0}` is not hexadecimal")]
    IvNotHex(String),
}

/// Decrypts a whole segment in place and cuts its padding. An error means
/// the body is not what the key encrypted (a wrong key, a cut body).
pub fn decrypt(key: &SegmentKey, body: &mut Vec<u8>) -> Result<(), DecryptError> {
    if body.is_empty() || !body.len().is_multiple_of(BLOCK) {
        return Err(DecryptError::NotWholeBlocks(body.len() as u64));
    }
    let plain = Aes128CbcDec::new(&key.key.into(), &key.iv.into())
        .decrypt_padded::<Pkcs7>(body)
        .map_err(|_| DecryptError::BadPadding)?
        .len();
    body.truncate(plain);
    Ok(())
}

/// The AES block size.
const BLOCK: usize = 16;

/// A segment being decrypted as its bytes arrive (CBC keeps its state
/// from one block to the next).
pub struct Decrypting {
    state: Aes128CbcDec,
    /// Encrypted bytes not given back yet: once any arrived, 1 to 16 of
    /// them (the last whole block, or a part of the next).
    held: Vec<u8>,
    /// Encrypted bytes taken, over all chunks.
    taken: u64,
}

impl Decrypting {
    pub fn new(key: &SegmentKey) -> Decrypting {
        Decrypting {
            state: Aes128CbcDec::new(&key.key.into(), &key.iv.into()),
            held: Vec::with_capacity(BLOCK),
            taken: 0,
        }
    }

    /// Takes the next encrypted bytes, chunked anyhow; `out` is emptied
    /// and given the clear bytes they free (whole blocks, all but the
    /// last block of the body so far).
    pub fn update(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.taken += chunk.len() as u64;
        out.clear();
        out.extend_from_slice(&self.held);
        out.extend_from_slice(chunk);
        let free = out.len().saturating_sub(1) / BLOCK * BLOCK;
        self.held.clear();
        self.held.extend_from_slice(&out[free..]);
        out.truncate(free);
        let (blocks, _) = Array::slice_as_chunks_mut(out);
        let blocks: &mut [Block<Aes128CbcDec>] = blocks;
        self.state.decrypt_blocks(blocks);
    }

    /// The body has ended: its last clear bytes, padding cut. An error
    /// means the body was not whole blocks, or not what the key
    /// encrypted (a wrong key, a cut body).
    pub fn finish(self) -> Result<Vec<u8>, DecryptError> {
        if self.taken == 0 || !self.taken.is_multiple_of(BLOCK as u64) {
            return Err(DecryptError::NotWholeBlocks(self.taken));
        }
        let mut last = self.held;
        let plain = self
            .state
            .decrypt_padded::<Pkcs7>(&mut last)
            .map_err(|_| DecryptError::BadPadding)?
            .len();
        last.truncate(plain);
        Ok(last)
    }
}

/// The `IV` attribute: `0x` and 32 hex digits (fewer are zero-extended on
/// the left).
pub fn parse_iv(text: &str) -> Result<[u8; 16], DecryptError> {
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .ok_or_else(|| DecryptError::IvPrefix(text.into()))?;
    if hex.is_empty() || hex.len() > 32 {
        return Err(DecryptError::IvLength(text.into()));
    }
    u128::from_str_radix(hex, 16)
        .map(u128::to_be_bytes)
        .map_err(|_| DecryptError::IvNotHex(text.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::source::iv_from_sequence;
    use aes::cipher::BlockModeEncrypt;

    #[test]
    fn decrypts_what_cbc_encrypted_and_refuses_garbage() {
        let key = SegmentKey {
            key: [7; 16],
            iv: iv_from_sequence(7),
        };
        let plain = b"an MPEG-TS segment, or any bytes at all".to_vec();
        let mut buf = vec![0u8; 48];
        let ct = cbc::Encryptor::<aes::Aes128>::new(&key.key.into(), &key.iv.into())
            .encrypt_padded_b2b::<Pkcs7>(&plain, &mut buf)
            .unwrap()
            .to_vec();
        let mut body = ct.clone();
        decrypt(&key, &mut body).unwrap();
        assert_eq!(body, plain);
        let wrong = SegmentKey {
            key: [8; 16],
            ..key.clone()
        };
        let mut body = ct.clone();
        assert!(decrypt(&wrong, &mut body).is_err());
        let mut cut = ct[..20].to_vec();
        assert_eq!(
            decrypt(&key, &mut cut),
            Err(DecryptError::NotWholeBlocks(20))
        );
        assert_eq!(
            DecryptError::NotWholeBlocks(20).to_string(),
            "20 bytes is not a whole number of 16-byte AES blocks"
        );
    }

    #[test]
    fn ivs_from_tags_and_sequence_numbers() {
        assert_eq!(iv_from_sequence(7)[15], 7);
        assert_eq!(iv_from_sequence(7)[..15], [0; 15]);
        let iv = parse_iv("0x000102030405060708090A0B0C0D0E0F").unwrap();
        assert_eq!(iv, core::array::from_fn(|i| i as u8));
        assert_eq!(parse_iv("0x1").unwrap()[15], 1);
        assert!(parse_iv("1234").is_err());
        assert!(parse_iv("0xZZ").is_err());
        assert!(parse_iv(&format!("0x{}", "0".repeat(33))).is_err());
    }

    fn key() -> SegmentKey {
        SegmentKey {
            key: core::array::from_fn(|i| i as u8 * 3),
            iv: iv_from_sequence(41),
        }
    }

    fn sealed(key: &SegmentKey, plain: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; (plain.len() / BLOCK + 1) * BLOCK];
        cbc::Encryptor::<aes::Aes128>::new(&key.key.into(), &key.iv.into())
            .encrypt_padded_b2b::<Pkcs7>(plain, &mut buf)
            .unwrap()
            .to_vec()
    }

    /// `body` decrypted as it arrives in chunks of the sizes `cuts` gives.
    fn streamed(
        key: &SegmentKey,
        body: &[u8],
        mut cuts: impl FnMut() -> usize,
    ) -> Result<Vec<u8>, DecryptError> {
        let mut d = Decrypting::new(key);
        let (mut plain, mut out, mut rest) = (Vec::new(), Vec::new(), body);
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at(cuts().clamp(1, rest.len()));
            d.update(chunk, &mut out);
            assert!(out.len().is_multiple_of(BLOCK));
            plain.extend_from_slice(&out);
            rest = after;
        }
        plain.extend(d.finish()?);
        Ok(plain)
    }

    #[test]
    fn any_chunking_decrypts_to_the_bytes_of_the_whole_body_path() {
        use rand::{Rng, SeedableRng};
        let key = key();
        let mut rng = rand::rngs::StdRng::seed_from_u64(24);
        // Every padding length, a body of one block and of many.
        for len in (0..=40).chain([1000, 4096, 65_537]) {
            let plain: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let body = sealed(&key, &plain);
            let mut whole = body.clone();
            decrypt(&key, &mut whole).unwrap();
            assert_eq!(whole, plain);
            for size in [1, 15, 16, 17, 4096, body.len()] {
                assert_eq!(
                    streamed(&key, &body, || size),
                    Ok(plain.clone()),
                    "{len}/{size}"
                );
            }
            for _ in 0..20 {
                let random = streamed(&key, &body, || rng.random_range(0..40));
                assert_eq!(random, Ok(plain.clone()), "{len} in random chunks");
            }
        }
    }

    #[test]
    fn bad_padding_and_broken_blocks_show_only_at_the_end() {
        let key = key();
        let body = sealed(&key, &[0x47; 1000]);
        // A wrong key: blocks come out (garbage), the padding fails at the end.
        let wrong = SegmentKey {
            key: [1; 16],
            ..key.clone()
        };
        let mut d = Decrypting::new(&wrong);
        let mut out = Vec::new();
        d.update(&body, &mut out);
        assert_eq!(out.len(), body.len() - BLOCK);
        assert_eq!(d.finish(), Err(DecryptError::BadPadding));
        // The last block changed: its padding no longer reads.
        let mut bad = body.clone();
        *bad.last_mut().unwrap() ^= 0x20;
        assert_eq!(streamed(&key, &bad, || 7), Err(DecryptError::BadPadding));
        let mut whole = bad.clone();
        assert_eq!(decrypt(&key, &mut whole), Err(DecryptError::BadPadding));
        // Cut mid-block, or nothing at all.
        let cut = &body[..body.len() - 5];
        let n = cut.len() as u64;
        assert_eq!(
            streamed(&key, cut, || 16),
            Err(DecryptError::NotWholeBlocks(n))
        );
        assert_eq!(
            streamed(&key, &[], || 1),
            Err(DecryptError::NotWholeBlocks(0))
        );
        assert_eq!(
            DecryptError::BadPadding.to_string(),
            "it does not decrypt with its AES-128 key (bad padding)"
        );
    }
}
