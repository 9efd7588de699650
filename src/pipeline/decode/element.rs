//! Reading one element: whether the bytes at a nibble position, read in one storage, are a valid
//! element (zero in the baseline, a marker of that store's code book in every pass, an identity in
//! use whose weight may be stored that way), and how far consecutive valid elements reach.

use super::super::code::{self, Class, Store};
use super::{Decoder, Elem};

impl<'a> Decoder<'a> {
    /// The element stored at nibble position `n` when read as `s`, if valid.
    #[inline]
    pub(super) fn element(&self, s: Store, n: u64) -> Option<Elem> {
        let size = s.nibbles();
        if n.checked_add(size)? > self.len_nibbles || n < 2 * self.origin as u64 {
            return None;
        }
        if s == Store::Nibble {
            return self.nibble_element(n);
        }
        if !n.is_multiple_of(2) {
            return None;
        }
        let off = (n / 2) as usize - self.origin;
        let nb = (size / 2) as usize;
        let base = &self.img.base[off..off + nb];
        if base.iter().any(|b| *b != 0) {
            return None;
        }
        let class = s.class();
        let mut g: u64 = 0;
        let mut eps_pass0 = false;
        match s {
            Store::F32 | Store::F16 | Store::Bf16 => {
                let mut scale: u64 = 1;
                for (p, img) in self.img.passes.iter().enumerate() {
                    let b = &img[off..off + nb];
                    let d = match s {
                        Store::F32 => {
                            let (d, eps) =
                                code::decode_f32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))?;
                            if eps {
                                if p != 0 {
                                    return None;
                                }
                                eps_pass0 = true;
                            }
                            d
                        }
                        Store::F16 => code::decode_f16(u16::from_le_bytes([b[0], b[1]]))?,
                        _ => code::decode_bf16(u16::from_le_bytes([b[0], b[1]]))?,
                    };
                    if p == 0 && d >= code::FLOAT_FIRST_BASE {
                        return None;
                    }
                    g = g.checked_add(d.checked_mul(scale)?)?;
                    scale = scale.saturating_mul(if p == 0 {
                        code::FLOAT_FIRST_BASE
                    } else {
                        code::FLOAT_BASE
                    });
                }
            }
            Store::Byte => {
                let mut scale: u64 = 1;
                for img in &self.img.passes {
                    let d = code::decode_byte(img[off])?;
                    g = g.checked_add(d.checked_mul(scale)?)?;
                    scale = scale.saturating_mul(code::BYTE_BASE);
                }
            }
            Store::I32 | Store::I64 => {
                let mut m0 = None;
                for (p, img) in self.img.passes.iter().enumerate() {
                    let b = &img[off..off + nb];
                    let v = if nb == 4 {
                        i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    } else {
                        i64::from_le_bytes(b.try_into().ok()?)
                    };
                    let m = if p == 0 { v.checked_neg()? } else { v };
                    if m < code::WIDE_OFFSET as i64 || m0.is_some_and(|m0| m0 != m) {
                        return None;
                    }
                    m0 = Some(m);
                }
                g = m0? as u64 - code::WIDE_OFFSET;
            }
            Store::Bool => {
                let mut bits: u64 = 0;
                for (p, img) in self.img.passes.iter().enumerate() {
                    match img[off] {
                        0 => {}
                        1 => bits |= 1u64.checked_shl(p as u32)?,
                        _ => return None,
                    }
                }
                g = bits.checked_sub(1)?;
            }
            Store::Nibble => unreachable!("handled above"),
        }
        let (weight, index) = self.ids.lookup(class, g, self.weights)?;
        let refit = self.weights[weight as usize].dtype;
        if !s.holds(refit) {
            return None;
        }
        if s == Store::F32 {
            // fp32 refit values carry the epsilon in pass 0, so fp32 storage of them must show it;
            // fp16/bf16 refit values cannot carry it, so their fp32 copies must not.
            let want = refit == crate::dtype::DataType::Float;
            if eps_pass0 != want {
                return None;
            }
        }
        Some(Elem { weight, index })
    }

    fn nibble_element(&self, n: u64) -> Option<Elem> {
        let off = (n / 2) as usize - self.origin;
        let shift = (n % 2) * 4;
        let nib = |b: u8| (b >> shift) & 0xF;
        if nib(self.img.base[off]) != 0 {
            return None;
        }
        let mut g: u64 = 0;
        let mut scale: u64 = 1;
        for img in &self.img.passes {
            let d = code::decode_nibble(nib(img[off]))?;
            g = g.checked_add(d.checked_mul(scale)?)?;
            scale = scale.saturating_mul(code::NIBBLE_BASE);
        }
        let (weight, index) = self.ids.lookup(Class::Nibble, g, self.weights)?;
        Store::Nibble
            .holds(self.weights[weight as usize].dtype)
            .then_some(Elem { weight, index })
    }

    /// Nibbles covered by consecutive valid elements of `s` from `n`, following at most `cap`
    /// nibbles.
    pub(super) fn coverage(&self, s: Store, n: u64, cap: u64) -> u64 {
        let size = s.nibbles();
        let mut at = n;
        while at - n < cap && self.element(s, at).is_some() {
            at += size;
        }
        at - n
    }

    /// First byte at or after `from` and before `to` where some pass differs from the baseline.
    /// Positions are the plan's; `from` must be inside the window.
    pub(super) fn next_changed(&self, from: usize, to: usize) -> Option<usize> {
        const CHUNK: usize = 4096;
        let base = self.img.base;
        debug_assert!(
            from >= self.origin,
            "{from} before the window at {}",
            self.origin
        );
        let to = to.saturating_sub(self.origin).min(base.len());
        let mut i = from - self.origin;
        while i < to {
            let end = (i + CHUNK).min(to);
            let mut first: Option<usize> = None;
            for img in &self.img.passes {
                if img[i..end] != base[i..end] {
                    let j = i + img[i..end]
                        .iter()
                        .zip(&base[i..end])
                        .position(|(a, b)| a != b)
                        .unwrap_or(0);
                    first = Some(first.map_or(j, |f| f.min(j)));
                }
            }
            if let Some(f) = first {
                return Some(f + self.origin);
            }
            i = end;
        }
        None
    }
}
