//! rustbpe: a byte-level BPE tokenizer trainer with Python bindings, for nanochat Lab.
//!
//! Design choices:
//! - The algorithm is nanochat's rustbpe (commit C): regex pre-split, chunk counting, incremental pair
//!   counts, and a lazily refreshed max-heap of merge candidates. The pure-Rust core ([`Bpe`],
//!   [`train_from_counts`], [`count_chunks`]) has no Python types, so `cargo test` exercises it directly.
//! - Deterministic tie-breaking: among pairs with the highest count, the merge chosen is the
//!   lexicographically smallest pair of token ids `(left, right)`. The same rule is used by the slow Python
//!   reference in `tests/rustbpe/` and by `nanochat_ref`'s pure-Python trainer, so all three agree exactly.
//! - Heap: `std::collections::BinaryHeap` (Debian ships no `dary_heap`); chunks are `String`s (no
//!   `compact_str`). Counts are `i64` so that transient negative deltas never wrap.
//! - Parallelism: rayon for chunk counting, initial pair counting and `batch_encode`; the merge loop itself is
//!   sequential (each merge depends on the previous one). Every long-running piece runs with the GIL released.
//! - Logging: `pyo3-log` is not packaged by Debian, so there is no progress logging.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use ahash::{AHashMap, AHashSet};
use fancy_regex::Regex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::prelude::*;

/// The GPT-4 (cl100k_base) split pattern, the default when `pattern` is not given.
pub const GPT4_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";

/// A pair of adjacent token ids.
pub type Pair = (u32, u32);

/// A unique regex chunk as a sequence of token ids (bytes 0..=255 at first, merged ids later).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Word {
    ids: Vec<u32>,
}

impl Word {
    fn from_bytes(bytes: &[u8]) -> Self {
        Word {
            ids: bytes.iter().map(|&b| u32::from(b)).collect(),
        }
    }

    fn pairs(&self) -> impl Iterator<Item = Pair> + '_ {
        self.ids.windows(2).map(|w| (w[0], w[1]))
    }

    /// Replaces every non-overlapping occurrence of `pair` (scanning left to right) with `new_id` and returns
    /// the local pair-count changes. For a match `a b` with left neighbour `x` and right neighbour `y`:
    /// `(x,a) -1, (x,new) +1, (a,b) -1, (b,y) -1, (new,y) +1`. The left neighbour is read from the output, so
    /// back-to-back matches (`a b a b`) correctly produce `(new,new)`.
    fn merge_pair(&mut self, pair: Pair, new_id: u32) -> Vec<(Pair, i64)> {
        let (a, b) = pair;
        let n = self.ids.len();
        let mut deltas = Vec::new();
        if n < 2 {
            return deltas;
        }
        // lab: begin merge-pair
        let mut out: Vec<u32> = Vec::with_capacity(n);
        let mut i = 0;
        while i < n {
            if i + 1 < n && self.ids[i] == a && self.ids[i + 1] == b {
                if let Some(&x) = out.last() {
                    deltas.push(((x, a), -1));
                    deltas.push(((x, new_id), 1));
                }
                deltas.push(((a, b), -1));
                if i + 2 < n {
                    let y = self.ids[i + 2];
                    deltas.push(((b, y), -1));
                    deltas.push(((new_id, y), 1));
                }
                out.push(new_id);
                i += 2;
            } else {
                out.push(self.ids[i]);
                i += 1;
            }
        }
        self.ids = out;
        // lab: end merge-pair
        deltas
    }
}

/// A merge candidate in the heap. Ordered by count (higher first), then by pair (smaller first), so the
/// max-heap pops the highest count and breaks ties toward the lexicographically smallest pair.
#[derive(Debug, Eq, PartialEq)]
struct MergeJob {
    pair: Pair,
    count: i64,
}

impl Ord for MergeJob {
    fn cmp(&self, other: &Self) -> Ordering {
        self.count
            .cmp(&other.count)
            .then_with(|| other.pair.cmp(&self.pair))
    }
}

impl PartialOrd for MergeJob {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Errors of the pure-Rust core; the Python layer maps them to `ValueError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BpeError {
    /// The split pattern does not compile.
    BadPattern(String),
    /// The regex engine gave up on an input (e.g. backtracking limit).
    RegexRuntime(String),
    /// `vocab_size` below 256 (the byte alphabet).
    VocabTooSmall(u32),
}

impl std::fmt::Display for BpeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BpeError::BadPattern(e) => write!(f, "invalid split pattern: {e}"),
            BpeError::RegexRuntime(e) => write!(f, "regex error while splitting text: {e}"),
            BpeError::VocabTooSmall(v) => write!(f, "vocab_size must be at least 256, got {v}"),
        }
    }
}

impl std::error::Error for BpeError {}

/// Compiles a split pattern.
pub fn compile_pattern(pattern: &str) -> Result<Regex, BpeError> {
    Regex::new(pattern).map_err(|e| BpeError::BadPattern(e.to_string()))
}

/// Splits every text with `regex` and counts each chunk, in parallel (rayon map-reduce).
pub fn count_chunks<S: AsRef<str> + Sync>(
    regex: &Regex,
    texts: &[S],
) -> Result<AHashMap<String, i64>, BpeError> {
    texts
        .par_iter()
        .map(|text| {
            let mut local: AHashMap<String, i64> = AHashMap::new();
            for m in regex.find_iter(text.as_ref()) {
                let m = m.map_err(|e| BpeError::RegexRuntime(e.to_string()))?;
                *local.entry(m.as_str().to_owned()).or_insert(0) += 1;
            }
            Ok(local)
        })
        .try_reduce(AHashMap::new, |mut a, b| {
            merge_counts(&mut a, b);
            Ok(a)
        })
}

/// Adds the counts of `from` into `into`.
pub fn merge_counts(into: &mut AHashMap<String, i64>, from: AHashMap<String, i64>) {
    if into.len() < from.len() {
        let mut from = from;
        std::mem::swap(into, &mut from);
        merge_counts(into, from);
        return;
    }
    for (k, v) in from {
        *into.entry(k).or_insert(0) += v;
    }
}

/// Initial pair counts (weighted by each word's count) and, for each pair, the words containing it.
fn count_pairs_parallel(
    words: &[Word],
    counts: &[i64],
) -> (AHashMap<Pair, i64>, AHashMap<Pair, AHashSet<usize>>) {
    words
        .par_iter()
        .enumerate()
        .map(|(i, w)| {
            let mut pc: AHashMap<Pair, i64> = AHashMap::new();
            let mut wh: AHashMap<Pair, AHashSet<usize>> = AHashMap::new();
            if counts[i] != 0 && w.ids.len() >= 2 {
                for p in w.pairs() {
                    *pc.entry(p).or_insert(0) += counts[i];
                    wh.entry(p).or_default().insert(i);
                }
            }
            (pc, wh)
        })
        .reduce(
            || (AHashMap::new(), AHashMap::new()),
            |(mut pa, mut wa), (pb, wb)| {
                for (k, v) in pb {
                    *pa.entry(k).or_insert(0) += v;
                }
                for (k, s) in wb {
                    wa.entry(k).or_default().extend(s);
                }
                (pa, wa)
            },
        )
}

/// Learns up to `vocab_size - 256` merges from chunk counts. Returns the merges in id order: element `k` is
/// the pair merged into token `256 + k`. Training stops early when no pair occurs any more.
///
/// Tie rule: highest pair count first; among equal counts, the lexicographically smallest `(left, right)`.
pub fn train_from_counts(
    chunks: &AHashMap<String, i64>,
    vocab_size: u32,
) -> Result<Vec<Pair>, BpeError> {
    if vocab_size < 256 {
        return Err(BpeError::VocabTooSmall(vocab_size));
    }
    let num_merges = (vocab_size - 256) as usize;
    // Sort the chunks so that word indices (and thus everything downstream) do not depend on hash order.
    let mut items: Vec<(&String, &i64)> = chunks.iter().collect();
    items.sort_unstable();
    let mut words: Vec<Word> = items
        .iter()
        .map(|(s, _)| Word::from_bytes(s.as_bytes()))
        .collect();
    let counts: Vec<i64> = items.iter().map(|(_, &c)| c).collect();

    let (mut pair_counts, mut where_to_update) = count_pairs_parallel(&words, &counts);
    let mut heap: BinaryHeap<MergeJob> = pair_counts
        .iter()
        .filter(|(_, &c)| c > 0)
        .map(|(&pair, &count)| MergeJob { pair, count })
        .collect();

    let mut merges: Vec<Pair> = Vec::with_capacity(num_merges);
    while merges.len() < num_merges {
        let Some(top) = heap.pop() else { break };
        // Lazy refresh: stale entries (count changed since push) go back with their live count.
        let live = pair_counts.get(&top.pair).copied().unwrap_or(0);
        if live != top.count {
            if live > 0 {
                heap.push(MergeJob {
                    pair: top.pair,
                    count: live,
                });
            }
            continue;
        }
        if live <= 0 {
            continue;
        }
        let new_id = 256 + merges.len() as u32;
        merges.push(top.pair);

        // lab: begin apply-merge
        let positions = where_to_update.remove(&top.pair).unwrap_or_default();
        let mut positions: Vec<usize> = positions.into_iter().collect();
        positions.sort_unstable();
        let mut touched: AHashMap<Pair, AHashSet<usize>> = AHashMap::new();
        for wi in positions {
            let deltas = words[wi].merge_pair(top.pair, new_id);
            for (pair, d) in deltas {
                let dw = d * counts[wi];
                if dw == 0 {
                    continue;
                }
                *pair_counts.entry(pair).or_insert(0) += dw;
                if d > 0 {
                    touched.entry(pair).or_default().insert(wi);
                }
            }
        }
        pair_counts.remove(&top.pair);
        // Push fresh jobs for pairs that gained occurrences; their counts only fall from here on, so the
        // heap entry is always an upper bound of the live count, which is what makes the lazy refresh exact.
        let mut touched: Vec<(Pair, AHashSet<usize>)> = touched.into_iter().collect();
        touched.sort_unstable_by_key(|(p, _)| *p);
        for (pair, pos) in touched {
            where_to_update.entry(pair).or_default().extend(pos);
            let count = pair_counts.get(&pair).copied().unwrap_or(0);
            if count > 0 {
                heap.push(MergeJob { pair, count });
            }
        }
        // lab: end apply-merge
    }
    Ok(merges)
}

/// The trained tokenizer, without any Python types: split pattern, compiled regex and merges.
#[derive(Clone, Debug)]
pub struct Bpe {
    pattern: String,
    regex: Regex,
    /// `merges[k]` is the pair merged into token `256 + k`.
    merges: Vec<Pair>,
    /// pair -> merged id, for encoding.
    ranks: AHashMap<Pair, u32>,
}

impl Bpe {
    /// An untrained tokenizer (bytes only) with the GPT-4 split pattern.
    pub fn new() -> Self {
        Self::from_merges(GPT4_PATTERN, Vec::new()).expect("GPT4_PATTERN compiles")
    }

    /// Builds a tokenizer from a pattern and merges in id order.
    pub fn from_merges(pattern: &str, merges: Vec<Pair>) -> Result<Self, BpeError> {
        let regex = compile_pattern(pattern)?;
        let ranks = merges
            .iter()
            .enumerate()
            .map(|(k, &p)| (p, 256 + k as u32))
            .collect();
        Ok(Bpe {
            pattern: pattern.to_owned(),
            regex,
            merges,
            ranks,
        })
    }

    /// Trains on in-memory texts (the Python binding streams instead; this is for Rust callers and tests).
    pub fn train<S: AsRef<str> + Sync>(
        texts: &[S],
        vocab_size: u32,
        pattern: &str,
    ) -> Result<Self, BpeError> {
        let regex = compile_pattern(pattern)?;
        let chunks = count_chunks(&regex, texts)?;
        let merges = train_from_counts(&chunks, vocab_size)?;
        Self::from_merges(pattern, merges)
    }

    /// The split pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The compiled split regex.
    pub fn regex(&self) -> &Regex {
        &self.regex
    }

    /// Merges in id order.
    pub fn merges(&self) -> &[Pair] {
        &self.merges
    }

    /// Number of tokens: 256 bytes plus one per merge.
    pub fn vocab_size(&self) -> usize {
        256 + self.merges.len()
    }

    /// Bytes of every token in id order: the 256 single bytes, then `left ‖ right` for each merge.
    /// Index = rank, exactly tiktoken's `mergeable_ranks` layout.
    pub fn token_bytes(&self) -> Vec<Vec<u8>> {
        let mut table: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        for &(l, r) in &self.merges {
            let mut v = table[l as usize].clone();
            v.extend_from_slice(&table[r as usize]);
            table.push(v);
        }
        table
    }

    /// Encodes one regex chunk: start from its bytes and repeatedly merge the adjacent pair with the lowest
    /// merged id until no adjacent pair is a known merge.
    fn encode_chunk(&self, chunk: &[u8], out: &mut Vec<u32>) {
        let mut ids: Vec<u32> = chunk.iter().map(|&b| u32::from(b)).collect();
        while ids.len() >= 2 {
            let mut best: Option<(usize, u32)> = None;
            for i in 0..ids.len() - 1 {
                if let Some(&id) = self.ranks.get(&(ids[i], ids[i + 1])) {
                    if best.is_none_or(|(_, b)| id < b) {
                        best = Some((i, id));
                    }
                }
            }
            let Some((i, id)) = best else { break };
            ids[i] = id;
            ids.remove(i + 1);
        }
        out.extend_from_slice(&ids);
    }

    /// Encodes a text: regex split, then per-chunk BPE.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, BpeError> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        for m in self.regex.find_iter(text) {
            let m = m.map_err(|e| BpeError::RegexRuntime(e.to_string()))?;
            self.encode_chunk(m.as_str().as_bytes(), &mut out);
        }
        Ok(out)
    }

    /// Decodes ids back to bytes (panics on unknown ids only in debug; unknown ids are an error here).
    pub fn decode_bytes(&self, ids: &[u32]) -> Option<Vec<u8>> {
        let table = self.token_bytes();
        let mut out = Vec::new();
        for &id in ids {
            out.extend_from_slice(table.get(id as usize)?);
        }
        Some(out)
    }
}

impl Default for Bpe {
    fn default() -> Self {
        Self::new()
    }
}

fn to_py_err(e: BpeError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A byte-level BPE tokenizer: train it from a Python iterator of strings, export its ranks to tiktoken,
/// or encode with it directly. Instances are immutable between trainings and safe to share across threads.
#[pyclass(module = "rustbpe")]
pub struct Tokenizer {
    inner: Bpe,
}

#[pymethods]
impl Tokenizer {
    /// Creates an untrained tokenizer (256 byte tokens, GPT-4 split pattern).
    #[new]
    fn py_new() -> Self {
        Tokenizer { inner: Bpe::new() }
    }

    /// Trains from `iterator` (any Python iterable of `str`) up to `vocab_size` tokens (>= 256).
    ///
    /// Streams: under the GIL it pulls up to `buffer_size` strings, then releases the GIL while rayon splits
    /// them with `pattern` (default: GPT-4's) and counts the chunks; it repeats until the iterator is
    /// exhausted. The merge loop runs with the GIL released too. Ties between equally frequent pairs go to
    /// the lexicographically smallest `(left_id, right_id)`. Stops early if no pair is left to merge.
    /// Raises `ValueError` for a bad pattern or `vocab_size < 256`, `TypeError` for non-`str` items.
    #[args(buffer_size = "8192", pattern = "None")]
    fn train_from_iterator(
        &mut self,
        py: Python<'_>,
        iterator: &PyAny,
        vocab_size: u32,
        buffer_size: usize,
        pattern: Option<String>,
    ) -> PyResult<()> {
        if vocab_size < 256 {
            return Err(to_py_err(BpeError::VocabTooSmall(vocab_size)));
        }
        if buffer_size == 0 {
            return Err(PyValueError::new_err("buffer_size must be positive"));
        }
        let pattern = pattern.unwrap_or_else(|| GPT4_PATTERN.to_owned());
        let regex = compile_pattern(&pattern).map_err(to_py_err)?;
        let mut iter = iterator.iter()?;
        let mut chunks: AHashMap<String, i64> = AHashMap::new();
        let mut buffer: Vec<String> = Vec::with_capacity(buffer_size);
        loop {
            buffer.clear();
            let exhausted = {
                // SAFETY: every object pulled in this scope is converted to an owned `String` before the pool
                // is dropped; no borrowed reference escapes. The pool keeps the GIL-owned temporaries from
                // piling up for the whole training run (the leak nanochat fixed in 9467d83).
                let _pool = unsafe { py.new_pool() };
                let mut exhausted = false;
                while buffer.len() < buffer_size {
                    match iter.next() {
                        Some(item) => buffer.push(item?.extract::<String>()?),
                        None => {
                            exhausted = true;
                            break;
                        }
                    }
                }
                exhausted
            };
            let counted = py
                .allow_threads(|| count_chunks(&regex, &buffer))
                .map_err(to_py_err)?;
            merge_counts(&mut chunks, counted);
            if exhausted {
                break;
            }
        }
        let merges = py
            .allow_threads(|| train_from_counts(&chunks, vocab_size))
            .map_err(to_py_err)?;
        self.inner = Bpe::from_merges(&pattern, merges).map_err(to_py_err)?;
        Ok(())
    }

    /// The split pattern in use (GPT-4's until a training passes another one).
    fn get_pattern(&self) -> String {
        self.inner.pattern().to_owned()
    }

    /// Number of tokens (256 + number of merges).
    #[getter]
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    /// `[(token_bytes, rank), ...]` in rank order, ready for `tiktoken.Encoding(mergeable_ranks=dict(...))`.
    /// Holds the GIL (it builds Python `bytes` objects).
    fn get_mergeable_ranks<'py>(&self, py: Python<'py>) -> Vec<(&'py PyBytes, u32)> {
        self.inner
            .token_bytes()
            .iter()
            .enumerate()
            .map(|(rank, b)| (PyBytes::new(py, b), rank as u32))
            .collect()
    }

    /// Encodes `text` to token ids (regex split, then lowest-id-first merging per chunk).
    /// Releases the GIL while encoding.
    fn encode(&self, py: Python<'_>, text: &str) -> PyResult<Vec<u32>> {
        let inner = &self.inner;
        py.allow_threads(|| inner.encode(text)).map_err(to_py_err)
    }

    /// Encodes a list of texts in parallel (rayon) with the GIL released; element `i` equals
    /// `encode(texts[i])`. The strings are copied out of Python before the GIL is released.
    fn batch_encode(&self, py: Python<'_>, texts: Vec<String>) -> PyResult<Vec<Vec<u32>>> {
        let inner = &self.inner;
        py.allow_threads(|| {
            texts
                .par_iter()
                .map(|t| inner.encode(t))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(to_py_err)
    }

    /// Decodes ids to `bytes` (the inverse of `encode` on its output). Raises `ValueError` on an unknown id.
    fn decode<'py>(&self, py: Python<'py>, ids: Vec<u32>) -> PyResult<&'py PyBytes> {
        let bytes = self
            .inner
            .decode_bytes(&ids)
            .ok_or_else(|| PyValueError::new_err("token id out of range"))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// `Tokenizer(vocab_size=..., pattern=...)` for debugging.
    fn __repr__(&self) -> String {
        format!(
            "Tokenizer(vocab_size={}, pattern={:?})",
            self.inner.vocab_size(),
            self.inner.pattern()
        )
    }
}

/// The Python module `rustbpe`: exposes [`Tokenizer`] and the default pattern `GPT4_PATTERN`.
#[pymodule]
fn rustbpe(_py: Python<'_>, m: &PyModule) -> PyResult<()> {
    m.add_class::<Tokenizer>()?;
    m.add("GPT4_PATTERN", GPT4_PATTERN)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts_of(words: &[(&str, i64)]) -> AHashMap<String, i64> {
        words.iter().map(|(s, c)| (s.to_string(), *c)).collect()
    }

    /// Slow reference: full recount each step, same tie rule.
    fn slow_train(chunks: &AHashMap<String, i64>, vocab_size: u32) -> Vec<Pair> {
        let mut words: Vec<(Vec<u32>, i64)> = chunks
            .iter()
            .map(|(s, &c)| (s.bytes().map(u32::from).collect(), c))
            .collect();
        let mut merges = Vec::new();
        for k in 0..(vocab_size - 256) {
            let mut pc: AHashMap<Pair, i64> = AHashMap::new();
            for (ids, c) in &words {
                for w in ids.windows(2) {
                    *pc.entry((w[0], w[1])).or_insert(0) += c;
                }
            }
            let best = pc
                .iter()
                .filter(|(_, &c)| c > 0)
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)));
            let Some((&pair, _)) = best else { break };
            let new_id = 256 + k;
            for (ids, _) in words.iter_mut() {
                let mut w = Word {
                    ids: std::mem::take(ids),
                };
                w.merge_pair(pair, new_id);
                *ids = w.ids;
            }
            merges.push(pair);
        }
        merges
    }

    #[test]
    fn merge_pair_handles_back_to_back_matches() {
        let mut w = Word {
            ids: vec![1, 2, 1, 2],
        };
        let deltas = w.merge_pair((1, 2), 9);
        assert_eq!(w.ids, vec![9, 9]);
        let mut net: AHashMap<Pair, i64> = AHashMap::new();
        for (p, d) in deltas {
            *net.entry(p).or_insert(0) += d;
        }
        assert_eq!(net[&(1, 2)], -2);
        assert_eq!(net[&(2, 1)], -1);
        assert_eq!(net[&(9, 1)], 0);
        assert_eq!(net[&(9, 9)], 1);
    }

    #[test]
    fn merge_pair_is_left_to_right_non_overlapping() {
        let mut w = Word { ids: vec![7, 7, 7] };
        w.merge_pair((7, 7), 300);
        assert_eq!(w.ids, vec![300, 7]);
    }

    #[test]
    fn merge_pair_deltas_match_a_full_recount() {
        let cases: Vec<Vec<u32>> = vec![
            vec![1, 2, 3, 1, 2, 1, 2, 2],
            vec![2, 2, 2, 2, 2],
            vec![1, 2],
            vec![3, 1, 2, 1, 2, 3, 1],
        ];
        for ids in cases {
            let before = Word { ids: ids.clone() };
            let mut after = before.clone();
            let deltas = after.merge_pair((1, 2), 50);
            let mut expected: AHashMap<Pair, i64> = AHashMap::new();
            for p in after.pairs() {
                *expected.entry(p).or_insert(0) += 1;
            }
            for p in before.pairs() {
                *expected.entry(p).or_insert(0) -= 1;
            }
            let mut got: AHashMap<Pair, i64> = AHashMap::new();
            for (p, d) in deltas {
                *got.entry(p).or_insert(0) += d;
            }
            expected.retain(|_, v| *v != 0);
            got.retain(|_, v| *v != 0);
            assert_eq!(got, expected, "ids {ids:?}");
        }
    }

    #[test]
    fn merge_job_orders_by_count_then_smallest_pair() {
        let mut heap = BinaryHeap::new();
        heap.push(MergeJob {
            pair: (5, 1),
            count: 3,
        });
        heap.push(MergeJob {
            pair: (2, 9),
            count: 3,
        });
        heap.push(MergeJob {
            pair: (2, 3),
            count: 3,
        });
        heap.push(MergeJob {
            pair: (0, 0),
            count: 2,
        });
        let order: Vec<Pair> = std::iter::from_fn(|| heap.pop().map(|j| j.pair)).collect();
        assert_eq!(order, vec![(2, 3), (2, 9), (5, 1), (0, 0)]);
    }

    #[test]
    fn training_picks_the_most_frequent_pair_first() {
        let chunks = counts_of(&[("ab", 5), ("cd", 2), ("abcd", 1)]);
        let merges = train_from_counts(&chunks, 258).unwrap();
        assert_eq!(merges[0], (u32::from(b'a'), u32::from(b'b')));
        assert_eq!(merges[1], (u32::from(b'c'), u32::from(b'd')));
    }

    #[test]
    fn training_breaks_ties_toward_the_smallest_pair() {
        let chunks = counts_of(&[("zy", 3), ("ba", 3), ("bc", 3)]);
        let merges = train_from_counts(&chunks, 259).unwrap();
        assert_eq!(
            merges,
            vec![
                (u32::from(b'b'), u32::from(b'a')),
                (u32::from(b'b'), u32::from(b'c')),
                (u32::from(b'z'), u32::from(b'y')),
            ]
        );
    }

    #[test]
    fn training_matches_the_slow_reference() {
        let text = "the cat sat on the mat; the bat ate the rat. aaaa bbbb abab abba 1234 12 123 hello hello world! \
                    Ünïcödé 中文 中文字符 emoji 🙂🙂 tabs\t\tand\nnewlines\n\n";
        let regex = compile_pattern(GPT4_PATTERN).unwrap();
        let chunks = count_chunks(&regex, &[text, text, "the the the"]).unwrap();
        for vocab in [256, 260, 300, 400] {
            assert_eq!(
                train_from_counts(&chunks, vocab).unwrap(),
                slow_train(&chunks, vocab),
                "vocab {vocab}"
            );
        }
    }

    #[test]
    fn training_stops_when_nothing_is_left_to_merge() {
        let chunks = counts_of(&[("abc", 1)]);
        let merges = train_from_counts(&chunks, 1000).unwrap();
        assert_eq!(merges.len(), 2);
    }

    #[test]
    fn training_rejects_a_vocab_smaller_than_the_byte_alphabet() {
        assert_eq!(
            train_from_counts(&AHashMap::new(), 100),
            Err(BpeError::VocabTooSmall(100))
        );
    }

    #[test]
    fn a_bad_pattern_is_an_error() {
        assert!(matches!(
            compile_pattern("(unclosed"),
            Err(BpeError::BadPattern(_))
        ));
    }

    #[test]
    fn count_chunks_splits_with_the_gpt4_pattern() {
        let regex = compile_pattern(GPT4_PATTERN).unwrap();
        let counts = count_chunks(&regex, &["Hello world, hello world!!", "world"]).unwrap();
        assert_eq!(counts["Hello"], 1);
        assert_eq!(counts[" world"], 2);
        assert_eq!(counts["world"], 1);
        assert_eq!(counts[" hello"], 1);
        assert_eq!(counts[","], 1);
        assert_eq!(counts["!!"], 1);
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let texts = [
            "hello world, hello there",
            "naïve café 東京 1234567",
            "   spaces\n\nlines ",
        ];
        let bpe = Bpe::train(&texts, 320, GPT4_PATTERN).unwrap();
        for t in texts.iter().chain(["unseen text ☃ !?"].iter()) {
            let ids = bpe.encode(t).unwrap();
            assert_eq!(bpe.decode_bytes(&ids).unwrap(), t.as_bytes());
        }
    }

    #[test]
    fn encode_compresses_training_text() {
        let text = "abababababab abababab ababab";
        let bpe = Bpe::train(&[text], 260, GPT4_PATTERN).unwrap();
        assert!(bpe.encode(text).unwrap().len() < text.len() / 2);
    }

    #[test]
    fn token_bytes_concatenates_merged_parts_in_rank_order() {
        let bpe = Bpe::from_merges(GPT4_PATTERN, vec![(104, 105), (256, 33)]).unwrap();
        let table = bpe.token_bytes();
        assert_eq!(table.len(), 258);
        assert_eq!(table[65], b"A".to_vec());
        assert_eq!(table[256], b"hi".to_vec());
        assert_eq!(table[257], b"hi!".to_vec());
    }

    #[test]
    fn training_is_deterministic_across_runs() {
        let texts: Vec<String> = (0..200)
            .map(|i| format!("doc {i} with words w{} and x{}", i % 7, i % 13))
            .collect();
        let a = Bpe::train(&texts, 400, GPT4_PATTERN).unwrap();
        let b = Bpe::train(&texts, 400, GPT4_PATTERN).unwrap();
        assert_eq!(a.merges(), b.merges());
    }
}
