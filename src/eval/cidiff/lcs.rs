//! A plain line-level LCS diff (the baseline CiDiff is compared with): which lines of the new
//! log are not part of a longest common subsequence with the old one, i.e. the lines an LCS diff
//! shows as added. Hirschberg's divide and conquer: linear memory, O(n·m) time, after the common
//! prefix and suffix are taken off.

use std::collections::HashMap;

/// Indices of `new` that an LCS diff against `old` marks as added.
pub fn added(old: &[u64], new: &[u64]) -> Vec<usize> {
    let mut kept = vec![false; new.len()];
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..].iter().rev().zip(new[prefix..].iter().rev()).take_while(|(a, b)| a == b).count();
    for k in kept.iter_mut().take(prefix) {
        *k = true;
    }
    for k in kept.iter_mut().rev().take(suffix) {
        *k = true;
    }
    common(&old[prefix..old.len() - suffix], &new[prefix..new.len() - suffix], prefix, &mut kept);
    kept.iter().enumerate().filter(|(_, k)| !**k).map(|(i, _)| i).collect()
}

/// Marks in `kept` (offset by `at`) the lines of `b` in one LCS of `a` and `b`.
fn common(a: &[u64], b: &[u64], at: usize, kept: &mut [bool]) {
    if a.is_empty() || b.is_empty() {
        return;
    }
    if a.len() == 1 {
        if let Some(j) = b.iter().position(|x| *x == a[0]) {
            kept[at + j] = true;
        }
        return;
    }
    let mid = a.len() / 2;
    let forward = lengths(a[..mid].iter(), b.iter(), b.len());
    let backward = lengths(a[mid..].iter().rev(), b.iter().rev(), b.len());
    let split = (0..=b.len()).max_by_key(|&j| (forward[j] + backward[b.len() - j], std::cmp::Reverse(j))).unwrap_or(0);
    common(&a[..mid], &b[..split], at, kept);
    common(&a[mid..], &b[split..], at + split, kept);
}

/// LCS lengths of all of `a` against each prefix of `b` (last DP row), bit-parallel (Allison and
/// Dix; Hyyrö, "Bit-parallel LCS-length computation revisited", 2004): the row's increments are a
/// bit vector over `b` (a 0 bit where the row steps up), updated 64 columns at a time for each
/// element of `a`. Same values as the plain DP, about 64 times fewer steps.
fn lengths<'a>(a: impl Iterator<Item = &'a u64>, b: impl Iterator<Item = &'a u64> + Clone, n: usize) -> Vec<u32> {
    let words = n.div_ceil(64);
    // Per value of `b`: the bit set of the positions holding it.
    let mut masks: HashMap<u64, Vec<u64>> = HashMap::new();
    for (j, y) in b.enumerate() {
        masks.entry(*y).or_insert_with(|| vec![0; words])[j / 64] |= 1 << (j % 64);
    }
    let mut v = vec![u64::MAX; words];
    for x in a {
        let Some(m) = masks.get(x) else { continue };
        let mut carry = false;
        for (v, m) in v.iter_mut().zip(m) {
            // V' = (V + (V & M)) | (V & !M), the addition carried across words.
            let u = *v & m;
            let (sum, c1) = v.overflowing_add(u);
            let (sum, c2) = sum.overflowing_add(u64::from(carry));
            carry = c1 || c2;
            *v = sum | (*v & !m);
        }
    }
    let mut row = vec![0u32; n + 1];
    for j in 0..n {
        row[j + 1] = row[j] + u32::from((v[j / 64] >> (j % 64)) & 1 == 0);
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain DP row, for reference.
    fn dp_lengths(a: &[u64], b: &[u64]) -> Vec<u32> {
        let mut row = vec![0u32; b.len() + 1];
        for x in a {
            let mut diagonal = 0;
            for (j, y) in b.iter().enumerate() {
                let up = row[j + 1];
                row[j + 1] = if x == y { diagonal + 1 } else { up.max(row[j]) };
                diagonal = up;
            }
        }
        row
    }

    #[test]
    fn bit_parallel_rows_equal_the_plain_dp() {
        // A small deterministic generator: sequences over few symbols, across word boundaries.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |k: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % k
        };
        for case in 0..200 {
            let (la, lb) = (next(150) as usize, next(200) as usize);
            let symbols = 2 + case % 6;
            let a: Vec<u64> = (0..la).map(|_| next(symbols)).collect();
            let b: Vec<u64> = (0..lb).map(|_| next(symbols)).collect();
            assert_eq!(lengths(a.iter(), b.iter(), b.len()), dp_lengths(&a, &b), "{a:?} / {b:?}");
        }
    }

    #[test]
    fn added_lines_are_those_outside_the_lcs() {
        assert_eq!(added(&[1, 2, 3, 4], &[1, 9, 3, 4, 8]), vec![1, 4]);
        assert_eq!(added(&[], &[5, 6]), vec![0, 1]);
        assert_eq!(added(&[5, 6], &[]), Vec::<usize>::new());
        assert_eq!(added(&[1, 2, 3], &[3, 2, 1]), vec![1, 2]);
    }
}
