//! Online log template mining: one configuration for every log source.
//!
//! Each line is split on whitespace and its obvious variables are masked ([`token`]): values with
//! digits, paths, timestamps, size units, keeping `key=` / `key:` prefixes and surrounding
//! punctuation. Runs of consecutive variables collapse into one for matching, so a variable may span
//! several tokens and lines of different lengths share a template. The masked line is looked up in a
//! memo of the masked lines seen before; on a miss it is compared with the templates of the same
//! (collapsed) length:
//!
//! - a template whose constants all equal the line's takes it;
//! - a template that disagrees only where the line has a value and the template a word takes it
//!   too, if enough of its tokens agree ([`MinerConfig::similarity`]): that word was a variable, and
//!   the position becomes `<*>`;
//! - otherwise the line starts a new template. Two lines that differ in a word where neither has a
//!   value stay apart: `VM Started` and `VM Paused` are different events, and a single configuration
//!   cannot tell a user name from a verb without evidence.
//!
//! A template keeps its [`TemplateId`] for its whole life, however much it generalises. The number
//! of templates is bounded ([`MinerConfig::max_clusters`]): the least recently matched one is
//! evicted to make room, and its id is never reused. The state serialises with serde, and the state
//! of another shard can be merged in ([`Miner::merge`]).

mod token;

use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};
use serde::{Deserialize, Serialize};

pub use token::VAR;

/// The miner's settings. [`MinerConfig::default`] is the configuration used for every log source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinerConfig {
    /// Templates kept at most; the least recently matched one is evicted beyond. Default 50,000.
    pub max_clusters: usize,
    /// A line that has a value where a template of the same shape has a constant joins the template
    /// (which turns that constant into `<*>`) when at least this share of the template's tokens
    /// agree with the line. Default 0.5.
    pub similarity: f64,
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self { max_clusters: 50_000, similarity: 0.5 }
    }
}

/// A template's identity; stable for as long as the template is kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, PartialOrd, Ord)]
pub struct TemplateId(pub u32);

/// A template as it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub id: TemplateId,
    /// The tokens joined by one space, variables as `<*>`.
    pub text: String,
    /// Lines that matched it (inserted, or merged in from another shard).
    pub count: u64,
}

/// One template and its bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cluster {
    id: TemplateId,
    /// The key tokens (runs of variables collapsed) that lines are matched against.
    tokens: Vec<Box<str>>,
    /// The template as displayed: the first line's masked tokens, generalised alongside `tokens`.
    display: Vec<Box<str>>,
    /// For each key token, its index in `display`.
    at: Vec<u32>,
    count: u64,
    /// The miner's clock at the last line that matched (for eviction).
    last_used: u64,
}

impl Cluster {
    fn template(&self) -> Template {
        Template { id: self.id, text: self.display.join(" "), count: self.count }
    }
}

/// A line split and masked, ready to be matched. Matching works on the *key* tokens: the masked
/// tokens with each run of consecutive `<*>` tokens collapsed into one, so that a variable may span
/// several tokens (`at <*> <*> <*>` and `at <*>` share a template).
#[derive(Debug, Clone, Default)]
struct Masked {
    text: String,
    spans: Vec<(u32, u32)>,
    /// Indexes into `spans` of the key tokens.
    key: Vec<u32>,
}

impl Masked {
    fn fill(&mut self, line: &str) {
        token::mask_line(line, &mut self.text, &mut self.spans);
        self.key.clear();
        let mut prev_var = false;
        for i in 0..self.spans.len() {
            let var = self.token(i) == VAR;
            if !(var && prev_var) {
                self.key.push(i as u32);
            }
            prev_var = var;
        }
    }

    fn token(&self, i: usize) -> &str {
        let (a, b) = self.spans[i];
        &self.text[a as usize..b as usize]
    }

    /// The number of key tokens.
    fn len(&self) -> usize {
        self.key.len()
    }

    fn key_token(&self, k: usize) -> &str {
        self.token(self.key[k] as usize)
    }

    fn hash(&self) -> u64 {
        let mut h = FxHasher::default();
        for k in 0..self.key.len() {
            h.write(self.key_token(k).as_bytes());
            h.write_u8(0xff);
        }
        h.finish()
    }
}

/// How a line relates to a template with as many key tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fit {
    /// Every constant token of the template equals the line's.
    Exact,
    /// Where they disagree, the line has a value (`<*>`) and the template a constant: the template
    /// can take the line by turning those positions into variables. Carries the share of the
    /// template's tokens that agree.
    Generalises(f64),
    /// They disagree on a constant of the line.
    Differs,
}

fn fit(tokens: &[Box<str>], line: &Masked) -> Fit {
    let mut agree = 0usize;
    let mut generalise = 0usize;
    for (k, t) in tokens.iter().enumerate() {
        let l = line.key_token(k);
        if &**t == VAR || &**t == l {
            agree += 1;
        } else if l == VAR {
            generalise += 1;
        } else {
            return Fit::Differs;
        }
    }
    if generalise == 0 { Fit::Exact } else { Fit::Generalises(agree as f64 / tokens.len().max(1) as f64) }
}

/// The online template miner. See the module documentation.
#[derive(Debug, Clone)]
pub struct Miner {
    config: MinerConfig,
    clusters: Vec<Cluster>,
    slot_of: FxHashMap<TemplateId, usize>,
    by_len: FxHashMap<usize, Vec<TemplateId>>,
    /// Masked line (hash) → the template it matched last time; checked before use.
    memo: FxHashMap<u64, TemplateId>,
    next_id: u32,
    clock: u64,
    scratch: Masked,
}

/// What a line should do, from [`Miner::route`].
enum Route {
    Matches(usize),
    Joins(usize),
    New,
}

impl Miner {
    pub fn new(config: MinerConfig) -> Self {
        Self {
            config,
            clusters: Vec::new(),
            slot_of: FxHashMap::default(),
            by_len: FxHashMap::default(),
            memo: FxHashMap::default(),
            next_id: 0,
            clock: 0,
            scratch: Masked::default(),
        }
    }

    pub fn config(&self) -> &MinerConfig {
        &self.config
    }

    /// Learns from one line and returns the id of the template it belongs to.
    pub fn insert(&mut self, line: &str) -> TemplateId {
        let mut masked = std::mem::take(&mut self.scratch);
        masked.fill(line);
        let id = self.learn(&masked, 1);
        self.scratch = masked;
        id
    }

    /// The template a line belongs to, without learning from it.
    pub fn match_line(&self, line: &str) -> Option<TemplateId> {
        let mut masked = Masked::default();
        masked.fill(line);
        match self.route(&masked, masked.hash()) {
            Route::Matches(slot) => Some(self.clusters[slot].id),
            Route::Joins(_) | Route::New => None,
        }
    }

    pub fn template(&self, id: TemplateId) -> Option<Template> {
        self.slot_of.get(&id).map(|&s| self.clusters[s].template())
    }

    /// Every template kept, in no particular order.
    pub fn templates(&self) -> impl Iterator<Item = Template> + '_ {
        self.clusters.iter().map(Cluster::template)
    }

    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    /// Merges the templates of another miner (another shard of the same log) into this one, as if
    /// each of them had been inserted here with its count. Returns, for each of `other`'s ids, the id
    /// it has here.
    pub fn merge(&mut self, other: &Miner) -> FxHashMap<TemplateId, TemplateId> {
        let mut order: Vec<&Cluster> = other.clusters.iter().collect();
        order.sort_by_key(|c| c.id);
        let mut mapping = FxHashMap::default();
        let mut masked = Masked::default();
        for cluster in order {
            masked.fill(&cluster.display.join(" "));
            let ours = self.learn(&masked, cluster.count);
            mapping.insert(cluster.id, ours);
        }
        mapping
    }

    fn route(&self, masked: &Masked, key: u64) -> Route {
        if let Some(slot) = self.memo.get(&key).and_then(|id| self.slot_of.get(id)) {
            if fit(&self.clusters[*slot].tokens, masked) == Fit::Exact {
                return Route::Matches(*slot);
            }
        }
        let mut best: Option<(f64, usize)> = None;
        for id in self.by_len.get(&masked.len()).into_iter().flatten() {
            let slot = self.slot_of[id];
            match fit(&self.clusters[slot].tokens, masked) {
                Fit::Exact => return Route::Matches(slot),
                Fit::Generalises(score) => {
                    if score >= self.config.similarity && best.is_none_or(|(b, _)| score > b) {
                        best = Some((score, slot));
                    }
                }
                Fit::Differs => {}
            }
        }
        match best {
            Some((_, slot)) => Route::Joins(slot),
            None => Route::New,
        }
    }

    fn learn(&mut self, masked: &Masked, count: u64) -> TemplateId {
        self.clock += 1;
        let key = masked.hash();
        let slot = match self.route(masked, key) {
            Route::Matches(slot) => slot,
            Route::Joins(slot) => {
                self.generalise(slot, masked);
                slot
            }
            Route::New => self.create(masked),
        };
        let cluster = &mut self.clusters[slot];
        cluster.count += count;
        cluster.last_used = self.clock;
        let id = cluster.id;
        if self.memo.len() >= self.config.max_clusters.saturating_mul(4).max(1024) {
            self.memo.clear();
        }
        self.memo.insert(key, id);
        id
    }

    /// Turns the template's constants where the line has a value into variables, and collapses the
    /// runs of variables this creates (the template may get shorter).
    fn generalise(&mut self, slot: usize, masked: &Masked) {
        let cluster = &mut self.clusters[slot];
        let before = cluster.tokens.len();
        let mut tokens: Vec<Box<str>> = Vec::with_capacity(before);
        let mut at = Vec::with_capacity(before);
        for (k, t) in cluster.tokens.iter().enumerate() {
            let var = &**t == VAR || masked.key_token(k) == VAR;
            if var {
                cluster.display[cluster.at[k] as usize] = VAR.into();
                if tokens.last().is_some_and(|p| &**p == VAR) {
                    continue;
                }
                tokens.push(VAR.into());
            } else {
                tokens.push(t.clone());
            }
            at.push(cluster.at[k]);
        }
        cluster.tokens = tokens;
        cluster.at = at;
        let (id, after) = (cluster.id, cluster.tokens.len());
        if after != before {
            if let Some(ids) = self.by_len.get_mut(&before) {
                ids.retain(|x| *x != id);
            }
            self.by_len.entry(after).or_default().push(id);
        }
    }

    fn create(&mut self, masked: &Masked) -> usize {
        if self.clusters.len() >= self.config.max_clusters.max(1) {
            self.evict_least_recent();
        }
        let id = TemplateId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let tokens = (0..masked.len()).map(|k| masked.key_token(k).into()).collect();
        let display = (0..masked.spans.len()).map(|i| masked.token(i).into()).collect();
        let at = masked.key.clone();
        self.push(Cluster { id, tokens, display, at, count: 0, last_used: self.clock })
    }

    fn push(&mut self, cluster: Cluster) -> usize {
        let slot = self.clusters.len();
        self.slot_of.insert(cluster.id, slot);
        self.by_len.entry(cluster.tokens.len()).or_default().push(cluster.id);
        self.clusters.push(cluster);
        slot
    }

    fn evict_least_recent(&mut self) {
        let Some(slot) = self.clusters.iter().enumerate().min_by_key(|(_, c)| c.last_used).map(|(s, _)| s) else {
            return;
        };
        let gone = self.clusters.swap_remove(slot);
        self.slot_of.remove(&gone.id);
        if let Some(moved) = self.clusters.get(slot) {
            self.slot_of.insert(moved.id, slot);
        }
        if let Some(ids) = self.by_len.get_mut(&gone.tokens.len()) {
            ids.retain(|id| *id != gone.id);
        }
    }
}

/// What is serialised: the templates and the id counter; the indexes are rebuilt on load.
#[derive(Serialize, Deserialize)]
struct State {
    config: MinerConfig,
    next_id: u32,
    clock: u64,
    clusters: Vec<Cluster>,
}

impl Serialize for Miner {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct StateRef<'a> {
            config: &'a MinerConfig,
            next_id: u32,
            clock: u64,
            clusters: &'a [Cluster],
        }
        StateRef { config: &self.config, next_id: self.next_id, clock: self.clock, clusters: &self.clusters }
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Miner {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let state = State::deserialize(deserializer)?;
        let mut miner = Miner::new(state.config);
        miner.next_id = state.next_id;
        miner.clock = state.clock;
        for cluster in state.clusters {
            if miner.slot_of.contains_key(&cluster.id) {
                return Err(serde::de::Error::custom(format!("template id {} appears twice", cluster.id.0)));
            }
            miner.push(cluster);
        }
        Ok(miner)
    }
}
