//! The table printed on stdout (or stderr with --json).

use crate::results::{Machine, Row};

pub(crate) fn fmt_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} KB", b / 1e3)
    }
}

pub(crate) fn fmt_params(p: u64) -> String {
    let p = p as f64;
    if p >= 1e9 {
        format!("{:.2}B", p / 1e9)
    } else if p >= 1e6 {
        format!("{:.1}M", p / 1e6)
    } else {
        format!("{:.0}", p)
    }
}

pub(crate) fn fmt_s(s: f64) -> String {
    if s >= 100.0 {
        format!("{s:.0}")
    } else if s >= 1.0 {
        format!("{s:.2}")
    } else {
        format!("{s:.4}")
    }
}

pub(crate) fn table(rows: &[Row], m: &Machine) -> String {
    let mut out = String::new();
    let head = [
        "model",
        "store",
        "params",
        "engine",
        "passes ours",
        "passes ref",
        "ratio",
        "time ours s",
        "time ref s",
        "ratio",
        "host ours s",
        "host ref s",
        "ratio",
        "decode GB/s",
        "per pass",
        "map GB/s",
        "peak/engine",
        "tool/engine",
        "spilled",
        "proof",
    ];
    let mut cells: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        let mut c = vec![
            r.model.clone(),
            r.storage.clone(),
            fmt_params(r.parameters),
            fmt_bytes(r.engine_bytes),
        ];
        if let Some(why) = r.skipped.as_ref().or(r.error.as_ref()) {
            c.push(format!(
                "{} {}",
                if r.skipped.is_some() {
                    "skipped:"
                } else {
                    "error:"
                },
                why
            ));
            cells.push(c);
            continue;
        }
        let (Some(o), Some(f), Some(mp)) = (&r.ours, &r.reference, &r.map) else {
            continue;
        };
        let ext = if f.full { "" } else { "~" };
        c.push(format!("{} (+{})", o.refit_serialize, o.serialize_only));
        c.push(format!("{} (+{})", f.refit_serialize, f.serialize_only));
        c.push(format!("{:.0}x", r.pass_ratio.unwrap_or(f64::NAN)));
        c.push(fmt_s(o.seconds));
        c.push(format!("{ext}{}", fmt_s(f.seconds)));
        c.push(format!("{ext}{:.1}x", r.time_ratio.unwrap_or(f64::NAN)));
        c.push(fmt_s(o.host_seconds));
        c.push(format!("{ext}{}", fmt_s(f.host_seconds)));
        c.push(format!(
            "{ext}{:.1}x",
            r.host_time_ratio.unwrap_or(f64::NAN)
        ));
        c.push(format!("{:.2}", o.decode_gbps));
        c.push(format!("{:.2}", o.decode_pass_gbps));
        c.push(format!("{:.2}", mp.gbps));
        c.push(format!(
            "{:.2} / {:.2} / {:.2}",
            o.peak_over_engine, o.spill_peak_over_engine, mp.peak_over_engine
        ));
        c.push(format!(
            "{:.2} ({} files)",
            o.tool_over_engine, o.spill_files
        ));
        c.push(format!("{:.2}", o.spill_tool_over_engine));
        c.push(format!(
            "{} {}/{}{}",
            o.proof,
            o.match_truth,
            r.weights,
            match (f.extracted, f.agree_with_ours) {
                (Some(e), Some(g)) => format!(" (ref {g}/{e} agree)"),
                _ => String::new(),
            }
        ));
        cells.push(c);
    }
    let ncol = head.len();
    let widths: Vec<usize> = (0..ncol)
        .map(|i| {
            cells
                .iter()
                .filter(|c| c.len() == ncol)
                .map(|c| c[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for c in &cells {
        let line: Vec<String> = c
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if c.len() == ncol && i > 1 {
                    format!("{s:>w$}", w = widths[i])
                } else {
                    format!("{s:<w$}", w = widths[i.min(ncol - 1)])
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "\n{} ({} cores, {:.0} GB). Simulated engine; one case at a time, its host work on {} threads. passes = refit+serialize (+ plain serializations).\n\
         time = wall time of a whole extraction (median of repeats); host = time outside the engine's refit/serialize/deserialize calls.\n\
         ~ = extrapolated from a sample of the reference method's passes. decode GB/s = engine bytes / decode() time (all threads, all\n\
         passes); per pass = engine bytes x marker passes / decode() time. map GB/s = engine bytes / (map parse + fingerprint +\n\
         reading every value) from the page cache. peak/engine = VmHWM / engine bytes for our extraction with serializations in\n\
         memory / peak RssAnon / engine bytes with serializations spilled to files (as dump does for large engines) / VmHWM for\n\
         map reading. Whole process; it holds the simulated engine (TensorRT's copy), 1x, while extracting. tool/engine = the\n\
         default mode's peak RssAnon less what was resident before it (the simulated engine) and less the output, over engine\n\
         bytes, with the temporary files it wrote; spilled = the same for the run with serializations spilled to files.\n\
         proof: our round-trip proof verdict, then weights equal to the simulator's ground truth; (ref a/b agree) = of b weights the\n\
         reference method extracted, a equal ours.\n",
        m.cpu,
        m.cores,
        m.mem_total_bytes as f64 / 1e9,
        m.threads
    ));
    out
}
