//! AES-128 (CBC, PKCS#7) decryption of HLS segments, `EXT-X-KEY`
//! METHOD=AES-128, with the RustCrypto `aes` and `cbc` crates.

use aes::cipher::{block_padding::Pkcs7, BlockModeDecrypt, KeyIvInit};

use crate::source::SegmentKey;

type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// Why a segment does not decrypt, or an `IV` attribute does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("{0} bytes is not a whole number of 16-byte AES blocks")]
    NotWholeBlocks(usize),
    #[error("it does not decrypt with its AES-128 key (bad padding)")]
    BadPadding,
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
    if body.is_empty() || !body.len().is_multiple_of(16) {
        return Err(DecryptError::NotWholeBlocks(body.len()));
    }
    let plain = Aes128CbcDec::new(&key.key.into(), &key.iv.into())
        .decrypt_padded::<Pkcs7>(body)
        .map_err(|_| DecryptError::BadPadding)?
        .len();
    body.truncate(plain);
    Ok(())
}

/// The IV of a segment without an `IV` attribute: its media sequence
/// number as a 16-byte big-endian integer.
pub fn iv_from_sequence(sequence: u64) -> [u8; 16] {
    (sequence as u128).to_be_bytes()
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
}
