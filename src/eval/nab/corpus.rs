//! Reading a NAB folder: `data/<group>/<file>.csv` (`timestamp,value`), `labels/combined_windows.json`,
//! `config/profiles.json`, `config/thresholds.json`, and the published results under `results/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::NaiveDateTime;

use super::scorer::{CostMatrix, Profile, Window};

/// One data file: its rows and its labelled windows.
#[derive(Debug, Clone)]
pub struct Series {
    /// `<group>/<file>.csv`, the key NAB's labels and results use.
    pub name: String,
    pub group: String,
    /// Seconds since the epoch (the timestamps carry no zone; read as UTC).
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
    pub windows: Vec<Window>,
}

/// Every data file present, in name order, with the corpus' profiles.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub root: PathBuf,
    pub series: Vec<Series>,
    pub profiles: Vec<Profile>,
    /// Groups named in the labels whose folder is absent from `data/`.
    pub missing_groups: Vec<String>,
    /// Data files with no entry in the labels (not scored).
    pub unlabelled: Vec<String>,
}

/// The profile order NAB reports in; profiles with other names follow in name order.
pub const PROFILE_ORDER: [&str; 3] = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"];

const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";

/// Parse a NAB timestamp (`2014-07-01 00:00:00`, optionally with fractional seconds) to epoch seconds.
pub fn parse_timestamp(text: &str) -> Result<i64> {
    let t = NaiveDateTime::parse_from_str(text.trim(), TIMESTAMP_FORMAT)
        .with_context(|| format!("timestamp {text:?} is not `YYYY-MM-DD HH:MM:SS`"))?;
    Ok(t.and_utc().timestamp())
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// A small CSV with a header row and no quoted fields (NAB's files are all like this).
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn read(path: &Path) -> Result<Table> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = match lines.next() {
            Some(h) => h.split(',').map(|c| c.trim().to_string()).collect(),
            None => bail!("{} is empty", path.display()),
        };
        let rows = lines.map(|l| l.split(',').map(|c| c.trim().to_string()).collect()).collect();
        Ok(Table { header, rows })
    }

    pub fn column(&self, name: &str, path: &Path) -> Result<usize> {
        self.header
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{} has no column {name:?} (columns: {})", path.display(), self.header.join(",")))
    }

    /// The cell at `row`, `col`, or an error naming the file and line.
    pub fn cell<'a>(&'a self, row: usize, col: usize, path: &Path) -> Result<&'a str> {
        self.rows[row]
            .get(col)
            .map(String::as_str)
            .with_context(|| format!("{} line {}: too few columns", path.display(), row + 2))
    }

    pub fn number(&self, row: usize, col: usize, path: &Path) -> Result<f64> {
        let cell = self.cell(row, col, path)?;
        cell.parse().with_context(|| format!("{} line {}: {cell:?} is not a number", path.display(), row + 2))
    }
}

/// Read `data/<group>/<file>.csv` → timestamps and values.
pub fn read_series_file(path: &Path) -> Result<(Vec<i64>, Vec<f64>)> {
    let table = Table::read(path)?;
    let (tc, vc) = (table.column("timestamp", path)?, table.column("value", path)?);
    let mut timestamps = Vec::with_capacity(table.rows.len());
    let mut values = Vec::with_capacity(table.rows.len());
    for r in 0..table.rows.len() {
        let t = table.cell(r, tc, path)?;
        timestamps.push(parse_timestamp(t).with_context(|| format!("{} line {}", path.display(), r + 2))?);
        values.push(table.number(r, vc, path)?);
    }
    Ok((timestamps, values))
}

/// Map labelled `[start, end]` timestamps to inclusive row ranges: the first row at or after the
/// start to the last row at or before the end (NAB's labels sit exactly on rows). Windows that
/// cover no row are dropped.
pub fn windows_to_rows(timestamps: &[i64], limits: &[(i64, i64)]) -> Vec<Window> {
    let mut windows = Vec::new();
    for &(start, end) in limits {
        let first = timestamps.partition_point(|t| *t < start);
        let after = timestamps.partition_point(|t| *t <= end);
        if first < after {
            windows.push(Window { start: first, end: after - 1 });
        }
    }
    windows.sort_by_key(|w| w.start);
    windows
}

/// `config/profiles.json` → profiles in NAB's reporting order.
pub fn read_profiles(root: &Path) -> Result<Vec<Profile>> {
    let path = root.join("config/profiles.json");
    let json = read_json(&path)?;
    let object = json.as_object().with_context(|| format!("{}: expected an object of profiles", path.display()))?;
    let mut profiles = Vec::new();
    for (name, body) in object {
        let matrix = &body["CostMatrix"];
        let weight = |key: &str| {
            matrix[key].as_f64().with_context(|| format!("{}: profile {name} has no CostMatrix.{key}", path.display()))
        };
        profiles.push(Profile {
            name: name.clone(),
            costs: CostMatrix {
                tp_weight: weight("tpWeight")?,
                fp_weight: weight("fpWeight")?,
                fn_weight: weight("fnWeight")?,
            },
        });
    }
    profiles.sort_by_key(|p| {
        (PROFILE_ORDER.iter().position(|n| *n == p.name).unwrap_or(PROFILE_ORDER.len()), p.name.clone())
    });
    if profiles.is_empty() {
        bail!("{} defines no profile", path.display());
    }
    Ok(profiles)
}

/// `labels/combined_windows.json` → `<group>/<file>.csv` → window limits in epoch seconds.
pub fn read_windows(root: &Path) -> Result<BTreeMap<String, Vec<(i64, i64)>>> {
    let path = root.join("labels/combined_windows.json");
    let json = read_json(&path)?;
    let object = json.as_object().with_context(|| format!("{}: expected an object of files", path.display()))?;
    let mut out = BTreeMap::new();
    for (file, windows) in object {
        let list = windows.as_array().with_context(|| format!("{}: {file}: expected a list", path.display()))?;
        let mut limits = Vec::with_capacity(list.len());
        for w in list {
            let pair = w.as_array().filter(|p| p.len() == 2).and_then(|p| Some((p[0].as_str()?, p[1].as_str()?)));
            let (a, b) = pair.with_context(|| format!("{}: {file}: window {w} is not [start, end]", path.display()))?;
            limits.push((parse_timestamp(a)?, parse_timestamp(b)?));
        }
        out.insert(file.clone(), limits);
    }
    Ok(out)
}

impl Corpus {
    /// Load every `data/<group>/*.csv` under `root` that the labels know.
    pub fn load(root: &Path) -> Result<Corpus> {
        if !root.is_dir() {
            bail!("NAB folder {} does not exist (expected data/, labels/, config/ inside)", root.display());
        }
        let data = root.join("data");
        if !data.is_dir() {
            bail!("{} has no data/ folder: is it a NAB checkout? (expected data/<group>/<file>.csv)", root.display());
        }
        let labels = read_windows(root)?;
        let profiles = read_profiles(root)?;
        let mut series = Vec::new();
        let mut unlabelled = Vec::new();
        let mut groups_present = Vec::new();
        let mut groups: Vec<PathBuf> = std::fs::read_dir(&data)
            .with_context(|| format!("listing {}", data.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        groups.sort();
        for group_dir in groups {
            let group = group_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let mut files: Vec<PathBuf> = std::fs::read_dir(&group_dir)
                .with_context(|| format!("listing {}", group_dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "csv"))
                .collect();
            files.sort();
            for file in files {
                let name = format!("{group}/{}", file.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
                let Some(limits) = labels.get(&name) else {
                    unlabelled.push(name);
                    continue;
                };
                let (timestamps, values) = read_series_file(&file)?;
                if timestamps.is_empty() {
                    bail!("{} has no rows", file.display());
                }
                let windows = windows_to_rows(&timestamps, limits);
                series.push(Series { name, group: group.clone(), timestamps, values, windows });
            }
            groups_present.push(group);
        }
        if series.is_empty() {
            bail!(
                "{} has no labelled data files (data/<group>/<file>.csv named in labels/combined_windows.json)",
                root.display()
            );
        }
        // The labels may have been trimmed to the files shipped; the published results name every file.
        let mut known: Vec<String> =
            labels.keys().chain(published_files(root).iter()).filter_map(|k| group_of(k)).collect();
        known.sort();
        known.dedup();
        let missing_groups = known.into_iter().filter(|g| !groups_present.contains(g)).collect();
        Ok(Corpus { root: root.to_path_buf(), series, profiles, missing_groups, unlabelled })
    }

    /// Windows over all files present (NAB's "perfect" detector earns `A_TP` for each).
    pub fn window_count(&self) -> usize {
        self.series.iter().map(|s| s.windows.len()).sum()
    }

    /// Group names present, in order.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = self.series.iter().map(|s| s.group.clone()).collect();
        groups.dedup();
        groups
    }
}

fn group_of(file: &str) -> Option<String> {
    file.split_once('/').map(|(g, _)| g.to_string())
}

/// Every data file named in any published `results/<det>/<det>_<profile>_scores.csv` (empty when
/// there are none).
pub fn published_files(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join("results")) else { return Vec::new() };
    let mut files = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let detector = entry.file_name().to_string_lossy().into_owned();
        for profile in PROFILE_ORDER {
            if let Ok(scores) = read_published_scores(root, &detector, profile) {
                files.extend(scores.into_keys());
            }
        }
    }
    files.sort();
    files.dedup();
    files
}

/// `config/thresholds.json`: detector → profile → threshold.
pub fn read_thresholds(root: &Path) -> Result<BTreeMap<String, BTreeMap<String, f64>>> {
    let path = root.join("config/thresholds.json");
    let json = read_json(&path)?;
    let mut out = BTreeMap::new();
    for (detector, profiles) in json.as_object().into_iter().flatten() {
        let mut per = BTreeMap::new();
        for (profile, body) in profiles.as_object().into_iter().flatten() {
            if let Some(t) = body["threshold"].as_f64() {
                per.insert(profile.clone(), t);
            }
        }
        out.insert(detector.clone(), per);
    }
    Ok(out)
}

/// `results/final_results.json`: detector → profile → normalised score (full published corpus).
pub fn read_final_results(root: &Path) -> Result<BTreeMap<String, BTreeMap<String, f64>>> {
    let path = root.join("results/final_results.json");
    let json = read_json(&path)?;
    let mut out = BTreeMap::new();
    for (detector, profiles) in json.as_object().into_iter().flatten() {
        let per =
            profiles.as_object().into_iter().flatten().filter_map(|(p, v)| Some((p.clone(), v.as_f64()?))).collect();
        out.insert(detector.clone(), per);
    }
    Ok(out)
}

/// One row of a published `results/<det>/<det>_<profile>_scores.csv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedFileScore {
    pub threshold: f64,
    pub score: f64,
    pub tp: usize,
    pub tn: usize,
    pub fp: usize,
    pub fn_: usize,
}

/// `results/<detector>/<detector>_<profile>_scores.csv` → file → published raw score (the `Totals` row
/// is left out).
pub fn read_published_scores(
    root: &Path,
    detector: &str,
    profile: &str,
) -> Result<BTreeMap<String, PublishedFileScore>> {
    let path = root.join(format!("results/{detector}/{detector}_{profile}_scores.csv"));
    let table = Table::read(&path)?;
    let col = |name: &str| table.column(name, &path);
    let (file, threshold, score) = (col("File")?, col("Threshold")?, col("Score")?);
    let (tp, tn, fp, fn_) = (col("TP")?, col("TN")?, col("FP")?, col("FN")?);
    let mut out = BTreeMap::new();
    for r in 0..table.rows.len() {
        let name = table.cell(r, file, &path)?;
        if name.is_empty() || name == "Totals" || table.cell(r, 0, &path)? == "Totals" {
            continue;
        }
        let count = |c: usize| table.number(r, c, &path).map(|n| n as usize);
        out.insert(
            name.to_string(),
            PublishedFileScore {
                threshold: table.number(r, threshold, &path)?,
                score: table.number(r, score, &path)?,
                tp: count(tp)?,
                tn: count(tn)?,
                fp: count(fp)?,
                fn_: count(fn_)?,
            },
        );
    }
    Ok(out)
}

/// Published per-row output of a detector: `results/<det>/<group>/<det>_<file>.csv`.
pub struct PublishedRows {
    pub timestamps: Vec<i64>,
    pub anomaly_scores: Vec<f64>,
    /// `S(t)_<profile>` columns, by profile name, where present.
    pub sweep_scores: BTreeMap<String, Vec<f64>>,
}

pub fn published_rows_path(root: &Path, detector: &str, series_name: &str) -> Option<PathBuf> {
    let (group, file) = series_name.split_once('/')?;
    Some(root.join(format!("results/{detector}/{group}/{detector}_{file}")))
}

pub fn read_published_rows(path: &Path, profiles: &[Profile]) -> Result<PublishedRows> {
    let table = Table::read(path)?;
    let (tc, ac) = (table.column("timestamp", path)?, table.column("anomaly_score", path)?);
    let mut timestamps = Vec::with_capacity(table.rows.len());
    let mut anomaly_scores = Vec::with_capacity(table.rows.len());
    for r in 0..table.rows.len() {
        timestamps.push(parse_timestamp(table.cell(r, tc, path)?)?);
        anomaly_scores.push(table.number(r, ac, path)?);
    }
    let mut sweep_scores = BTreeMap::new();
    for p in profiles {
        if let Ok(c) = table.column(&format!("S(t)_{}", p.name), path) {
            let column = (0..table.rows.len()).map(|r| table.number(r, c, path)).collect::<Result<Vec<f64>>>()?;
            sweep_scores.insert(p.name.clone(), column);
        }
    }
    Ok(PublishedRows { timestamps, anomaly_scores, sweep_scores })
}
