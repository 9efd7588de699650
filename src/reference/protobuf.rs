//! Just enough of the protobuf wire format to walk an ONNX model: varints, tags, and fields that
//! are read or skipped by length, streaming from a file.
//!
//! Hand-written rather than `prost` because the one thing prost cannot do is skip: it decodes from
//! a buffer holding the whole message, so listing the shapes of a 2 GB model would read and copy
//! 2 GB. Here every length-delimited field we do not want is skipped with a seek, and every length
//! is checked against the end of the message that holds it (and so against the file's size) before
//! anything is read or allocated.

use std::io::{BufReader, Read, Seek};

/// Wire types (protobuf encoding spec).
pub const VARINT: u8 = 0;
pub const FIXED64: u8 = 1;
pub const LEN: u8 = 2;
pub const FIXED32: u8 = 5;

/// A position-tracking reader over a seekable stream. Errors are messages naming the byte offset;
/// the caller adds the file name.
pub struct Reader<R> {
    r: BufReader<R>,
    pos: u64,
}

impl<R: Read + Seek> Reader<R> {
    pub fn new(r: R) -> Reader<R> {
        Reader {
            r: BufReader::with_capacity(64 * 1024, r),
            pos: 0,
        }
    }

    pub fn pos(&self) -> u64 {
        self.pos
    }

    fn byte(&mut self, end: u64) -> Result<u8, String> {
        if self.pos >= end {
            return Err(format!(
                "a value at byte {} runs past the end of its message",
                self.pos
            ));
        }
        let mut b = [0u8; 1];
        self.r
            .read_exact(&mut b)
            .map_err(|e| format!("cannot read byte {}: {e}", self.pos))?;
        self.pos += 1;
        Ok(b[0])
    }

    /// A base-128 varint of at most 10 bytes that ends before `end`.
    pub fn varint(&mut self, end: u64) -> Result<u64, String> {
        let start = self.pos;
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte(end)?;
            if i == 9 && b > 1 {
                return Err(format!("varint at byte {start} overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("varint at byte {start} is longer than 10 bytes"))
    }

    /// The next field's (number, wire type), or `None` at `end`.
    pub fn tag(&mut self, end: u64) -> Result<Option<(u32, u8)>, String> {
        if self.pos == end {
            return Ok(None);
        }
        if self.pos > end {
            return Err(format!(
                "a field at byte {} overlaps the end of its message",
                self.pos
            ));
        }
        let at = self.pos;
        let v = self.varint(end)?;
        let field = v >> 3;
        if field == 0 || field > (1 << 29) - 1 {
            return Err(format!("invalid field number {field} at byte {at}"));
        }
        Ok(Some((field as u32, (v & 7) as u8)))
    }

    /// Reads a length prefix and returns where the field's payload ends (checked against `end`).
    pub fn len_end(&mut self, end: u64) -> Result<u64, String> {
        let at = self.pos;
        let len = self.varint(end)?;
        match self.pos.checked_add(len) {
            Some(e) if e <= end => Ok(e),
            _ => Err(format!(
                "a field at byte {at} claims {len} bytes, past the end of its message at byte {end}"
            )),
        }
    }

    /// Moves forward to `target` (never backwards), keeping the buffer where it can.
    pub fn skip_to(&mut self, target: u64) -> Result<(), String> {
        let delta = target
            .checked_sub(self.pos)
            .ok_or_else(|| format!("internal: skip backwards from {} to {target}", self.pos))?;
        let delta =
            i64::try_from(delta).map_err(|_| format!("skip of {delta} bytes is too far"))?;
        self.r
            .seek_relative(delta)
            .map_err(|e| format!("cannot seek to byte {target}: {e}"))?;
        self.pos = target;
        Ok(())
    }

    /// Skips one field's value of the given wire type.
    pub fn skip_value(&mut self, wire: u8, end: u64) -> Result<(), String> {
        let target = match wire {
            VARINT => {
                self.varint(end)?;
                return Ok(());
            }
            FIXED64 => self.pos.checked_add(8),
            FIXED32 => self.pos.checked_add(4),
            LEN => Some(self.len_end(end)?),
            other => {
                return Err(format!(
                    "wire type {other} at byte {} (groups are not used by ONNX)",
                    self.pos
                ))
            }
        };
        match target {
            Some(t) if t <= end => self.skip_to(t),
            _ => Err(format!(
                "a fixed-size value at byte {} runs past its message",
                self.pos
            )),
        }
    }

    /// Reads `len` bytes. The caller has checked `pos + len <= end <= file size`, so a lying
    /// length cannot cost more than the file holds.
    pub fn bytes(&mut self, len: u64) -> Result<Vec<u8>, String> {
        let at = self.pos;
        let v = super::read_exact_vec(&mut self.r, len)
            .map_err(|e| format!("cannot read {len} bytes at byte {at}: {e}"))?;
        self.pos += len;
        Ok(v)
    }

    /// A length-delimited UTF-8 string of at most `cap` bytes.
    pub fn string(&mut self, end: u64, cap: usize) -> Result<String, String> {
        let at = self.pos;
        let e = self.len_end(end)?;
        let len = e - self.pos;
        if len > cap as u64 {
            return Err(format!(
                "a string at byte {at} is {len} bytes long (more than {cap})"
            ));
        }
        String::from_utf8(self.bytes(len)?)
            .map_err(|_| format!("the string at byte {at} is not UTF-8"))
    }
}

/// Appends `v` as a varint (to keep unpacked repeated fields in packed form).
pub fn encode_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes a packed run of varints (bytes already read and bounded).
pub fn decode_varints(b: &[u8]) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    for_each_varint(b, |v| {
        out.push(v);
        Ok(())
    })?;
    Ok(out)
}

/// Calls `f` with each varint of a packed run, stopping at the first error (so a caller can stop
/// as soon as the values exceed what it expects, without building a list 8 times the input).
pub fn for_each_varint(
    mut b: &[u8],
    mut f: impl FnMut(u64) -> Result<(), String>,
) -> Result<(), String> {
    while !b.is_empty() {
        let mut v = 0u64;
        let mut i = 0;
        loop {
            let Some((&byte, rest)) = b.split_first() else {
                return Err("a packed varint is cut off".into());
            };
            b = rest;
            if i == 9 && byte > 1 {
                return Err("a packed varint overflows 64 bits".into());
            }
            v |= u64::from(byte & 0x7f) << (7 * i);
            i += 1;
            if byte & 0x80 == 0 {
                break;
            }
        }
        f(v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn reader(b: &[u8]) -> Reader<Cursor<Vec<u8>>> {
        Reader::new(Cursor::new(b.to_vec()))
    }

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            encode_varint(v, &mut b);
            let mut r = reader(&b);
            assert_eq!(r.varint(b.len() as u64).unwrap(), v);
            assert_eq!(decode_varints(&b).unwrap(), vec![v]);
        }
    }

    #[test]
    fn overlong_and_cut_varints_are_errors() {
        let b = [0xffu8; 11];
        assert!(reader(&b).varint(11).unwrap_err().contains("overflows"));
        assert!(reader(&[0x80, 0x80])
            .varint(2)
            .unwrap_err()
            .contains("past the end"));
        assert!(decode_varints(&[0x80]).is_err());
    }

    #[test]
    fn lengths_past_the_message_are_errors() {
        // field 1, LEN, length 100, but only 2 bytes follow.
        let b = [0x0a, 100, 1, 2];
        let mut r = reader(&b);
        assert_eq!(r.tag(4).unwrap(), Some((1, LEN)));
        assert!(r.len_end(4).unwrap_err().contains("claims 100 bytes"));
        // u64::MAX as a length must not overflow the position.
        let mut b = vec![0x0a];
        encode_varint(u64::MAX, &mut b);
        let mut r = reader(&b);
        r.tag(b.len() as u64).unwrap();
        assert!(r.len_end(b.len() as u64).is_err());
    }

    #[test]
    fn groups_and_field_zero_are_refused() {
        assert!(reader(&[0x00])
            .tag(1)
            .unwrap_err()
            .contains("field number 0"));
        let mut r = reader(&[0x0b, 0]);
        let (_, wire) = r.tag(2).unwrap().unwrap();
        assert!(r.skip_value(wire, 2).unwrap_err().contains("groups"));
    }

    #[test]
    fn skipping_keeps_position() {
        // field 1 varint 5; field 2 len 3 "abc"; field 3 fixed32.
        let b = [0x08, 5, 0x12, 3, b'a', b'b', b'c', 0x1d, 1, 2, 3, 4];
        let end = b.len() as u64;
        let mut r = reader(&b);
        while let Some((_, wire)) = r.tag(end).unwrap() {
            r.skip_value(wire, end).unwrap();
        }
        assert_eq!(r.pos(), end);
    }
}
