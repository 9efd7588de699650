//! A folder of `.npy` files, one tensor each, as `dump --format npy` writes it (with `index.json`
//! giving each file's tensor name) or as anyone else might (`np.save` per tensor: the tensor is
//! named after its file, less `.npy`). Files are read in name order; other files are ignored.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::npz::{fortran_to_c, read_npy_header, NpyHeader};
use super::{limits, read_exact_vec, unreadable, Loaded, RefTensor, Skipped, TensorShape};

/// The `.npy` files of `dir` with their tensor names, in file-name order.
fn files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| unreadable(dir, format!("cannot list the folder: {e}")))?;
    let mut files = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| unreadable(dir, format!("cannot list the folder: {e}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".npy") && entry.path().is_file() {
            files.push(name);
            if files.len() > limits::MAX_TENSORS {
                return Err(unreadable(
                    dir,
                    format!("more than {} .npy files", limits::MAX_TENSORS),
                ));
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(unreadable(dir, "a folder with no .npy file in it"));
    }
    // trt-dump's own index.json names each file's tensor (names are made safe for file names).
    let mut names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    if let Ok(bytes) = std::fs::read(dir.join("index.json")) {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            for w in v
                .get("weights")
                .and_then(|w| w.as_array())
                .into_iter()
                .flatten()
            {
                if let (Some(n), Some(f)) = (
                    w.get("name").and_then(|n| n.as_str()),
                    w.get("file").and_then(|f| f.as_str()),
                ) {
                    names.insert(f.to_string(), n.to_string());
                }
            }
        }
    }
    files
        .into_iter()
        .map(|f| {
            let name = names
                .get(&f)
                .cloned()
                .unwrap_or_else(|| f.strip_suffix(".npy").unwrap_or(&f).to_string());
            super::check_name(&name).map_err(|m| unreadable(dir, m))?;
            let path = dir.join(&f);
            Ok((name, path))
        })
        .collect()
}

fn header(path: &Path, name: &str) -> anyhow::Result<(NpyHeader, File, u64)> {
    let mut f = super::open(path)?;
    let len = f
        .metadata()
        .map(|m| m.len())
        .map_err(|e| unreadable(path, format!("cannot stat: {e}")))?;
    let h =
        read_npy_header(&mut f).map_err(|m| unreadable(path, format!("array `{name}`: {m}")))?;
    Ok((h, f, len))
}

pub(super) fn load(dir: &Path) -> anyhow::Result<Loaded> {
    let mut loaded = Loaded::default();
    for (name, path) in files(dir)? {
        let (h, mut f, len) = header(&path, &name)?;
        let (dtype, big_endian) = match h.dtype {
            Ok(d) => d,
            Err(reason) => {
                loaded.skipped.push(Skipped { name, reason });
                continue;
            }
        };
        let bad = |m: String| unreadable(&path, format!("array `{name}`: {m}"));
        let count = super::element_count(&h.shape)
            .ok_or_else(|| bad(format!("shape {:?} overflows 64 bits", h.shape)))?;
        let bytes = super::data_bytes(dtype, count).map_err(bad)?;
        if h.header_len
            .checked_add(bytes)
            .is_none_or(|need| need > len)
        {
            return Err(bad(format!(
                "shape {:?} of {} needs {bytes} bytes but the file holds {}",
                h.shape,
                h.descr,
                len.saturating_sub(h.header_len)
            )));
        }
        let mut data = read_exact_vec(&mut f as &mut dyn Read, bytes)
            .map_err(|e| bad(format!("truncated data: {e}")))?;
        if big_endian {
            let size = (dtype.bits() / 8) as usize;
            data.chunks_exact_mut(size).for_each(<[u8]>::reverse);
        }
        if h.fortran && h.shape.len() > 1 {
            data = fortran_to_c(&data, &h.shape, (dtype.bits() / 8) as usize);
        }
        loaded.tensors.push(RefTensor {
            name,
            dtype,
            shape: h.shape,
            data,
        });
    }
    Ok(loaded)
}

pub(super) fn load_shapes(dir: &Path) -> anyhow::Result<Vec<TensorShape>> {
    let mut out = Vec::new();
    for (name, path) in files(dir)? {
        let (h, _, _) = header(&path, &name)?;
        out.push(TensorShape {
            name,
            dtype: h.dtype.ok().map(|(d, _)| d),
            source_dtype: h.descr,
            shape: h.shape,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DataType;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut dict =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + dict.len() + 1) % 64 != 0 {
            dict.push(' ');
        }
        dict.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        b.extend_from_slice(dict.as_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn reads_a_folder_named_by_its_index_or_its_files() {
        let d = tempfile::tempdir().unwrap();
        let v: Vec<u8> = [1f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        std::fs::write(d.path().join("a.weight.npy"), npy("<f4", "(2, 3)", &v)).unwrap();
        std::fs::write(d.path().join("b.npy"), npy("<f8", "(1,)", &[0; 8])).unwrap();
        std::fs::write(d.path().join("notes.txt"), "not a tensor").unwrap();
        let l = load(d.path()).unwrap();
        assert_eq!(l.tensors.len(), 1);
        assert_eq!(l.tensors[0].name, "a.weight");
        assert_eq!(
            (l.tensors[0].dtype, l.tensors[0].shape.clone()),
            (DataType::Float, vec![2, 3])
        );
        assert_eq!(l.tensors[0].data, v);
        assert_eq!(l.skipped[0].name, "b");
        // trt-dump's index.json gives the names (file names are made safe, names are not).
        std::fs::write(
            d.path().join("index.json"),
            r#"{"weights": [{"name": "a/weight", "file": "a.weight.npy"}]}"#,
        )
        .unwrap();
        assert_eq!(load(d.path()).unwrap().tensors[0].name, "a/weight");
        assert_eq!(load_shapes(d.path()).unwrap()[0].shape, vec![2, 3]);
        assert_eq!(
            crate::reference::detect(d.path()).unwrap(),
            crate::reference::Format::NpyDir
        );
    }

    #[test]
    fn lying_shapes_and_empty_folders_are_errors() {
        let d = tempfile::tempdir().unwrap();
        assert!(load(d.path()).is_err(), "no .npy file");
        std::fs::write(
            d.path().join("x.npy"),
            npy("<f4", "(1000000000, 1000)", &[0; 16]),
        )
        .unwrap();
        let e = load(d.path()).unwrap_err();
        assert!(format!("{e:#}").contains("needs"), "{e:#}");
    }
}
