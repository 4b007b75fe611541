//! Hand-made hostile `torch.save` files, byte by byte: pickles that would
//! build exponentially much or nest too deep, and a state dict of many
//! views of one storage. Shared by the checkpoint reader's tests and the
//! worker test that feeds them to the real `pipe`.

#![allow(dead_code)]

/// A legacy-format file around `main` (magic number, protocol 1001, an
/// empty `sys_info`, the main pickle, the storage keys `keys`), followed
/// by `storages` (each a u64 element count and its bytes).
pub fn legacy(main: &[u8], keys: &[&str], storages: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80, 2, 0x8a, 10];
    f.extend_from_slice(&0x1950_a86a_20f9_469c_fc6c_u128.to_le_bytes()[..10]);
    f.extend_from_slice(b".\x80\x02M\xe9\x03.\x80\x02}.");
    f.extend_from_slice(main);
    f.extend_from_slice(b"\x80\x02(");
    for key in keys {
        f.extend_from_slice(&string(key));
    }
    f.extend_from_slice(b"l.");
    f.extend_from_slice(storages);
    f
}

/// `X`: a pickled string.
pub fn string(s: &str) -> Vec<u8> {
    let mut p = vec![b'X'];
    p.extend_from_slice(&u32::try_from(s.len()).expect("short").to_le_bytes());
    p.extend_from_slice(s.as_bytes());
    p
}

/// 8 bytes a level: level `i` is the list `[level i-1, level i-1]`,
/// both fetched from the memo, so a reader that copies memo entries
/// builds 2^levels lists.
pub fn doubling_memo(levels: u8) -> Vec<u8> {
    let mut p = vec![0x80, 2, b']', b'q', 0];
    for i in 1..=levels {
        p.extend_from_slice(&[b'(', b'h', i - 1, b'h', i - 1, b'l', b'q', i]);
    }
    p.push(b'.');
    p
}

/// Lists nested `depth` deep: `depth` marks, then `depth` LISTs.
pub fn deep_nesting(depth: usize) -> Vec<u8> {
    let mut p = vec![0x80, 2];
    p.extend(std::iter::repeat_n(b'(', depth));
    p.extend(std::iter::repeat_n(b'l', depth));
    p.push(b'.');
    p
}

/// A legacy file of [`views`] with its storage, all zeros.
pub fn transposed_views(side: u16, copies: u16) -> Vec<u8> {
    let numel = u32::from(side) * u32::from(side);
    let mut storage = u64::from(numel).to_le_bytes().to_vec();
    storage.resize(8 + 4 * numel as usize, 0);
    legacy(&views(side, copies, numel), &["0"], &storage)
}

/// The pickle of a state dict of `copies` tensors, each the transpose of
/// one `side` x `side` float storage `0` said to hold `numel` elements:
/// the storage is stored once, every tensor is a non-contiguous view that
/// reading copies.
pub fn views(side: u16, copies: u16, numel: u32) -> Vec<u8> {
    let mut p = vec![0x80, 2, b'}', b'('];
    for i in 0..copies {
        p.extend_from_slice(&string(&format!("t{i}")));
        p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        p.extend_from_slice(b"(");
        p.extend_from_slice(&string("storage"));
        p.extend_from_slice(b"ctorch\nFloatStorage\n");
        p.extend_from_slice(&string("0"));
        p.extend_from_slice(&string("cpu"));
        p.push(b'J');
        p.extend_from_slice(&numel.to_le_bytes());
        p.extend_from_slice(b"tQK\x00");
        p.push(b'M');
        p.extend_from_slice(&side.to_le_bytes());
        p.push(b'M');
        p.extend_from_slice(&side.to_le_bytes());
        p.extend_from_slice(b"\x86K\x01M");
        p.extend_from_slice(&side.to_le_bytes());
        p.extend_from_slice(b"\x86tR");
    }
    p.extend_from_slice(b"u.");
    p
}
