//! A plain line-level LCS diff (the baseline CiDiff is compared with): which lines of the new
//! log are not part of a longest common subsequence with the old one, i.e. the lines an LCS diff
//! shows as added. Hirschberg's divide and conquer: linear memory, O(n·m) time, after the common
//! prefix and suffix are taken off.

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

/// LCS lengths of all of `a` against each prefix of `b` (last DP row).
fn lengths<'a>(a: impl Iterator<Item = &'a u64>, b: impl Iterator<Item = &'a u64> + Clone, n: usize) -> Vec<u32> {
    let mut row = vec![0u32; n + 1];
    for x in a {
        let mut diagonal = 0;
        for (j, y) in b.clone().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if x == y { diagonal + 1 } else { up.max(row[j]) };
            diagonal = up;
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_are_those_outside_the_lcs() {
        assert_eq!(added(&[1, 2, 3, 4], &[1, 9, 3, 4, 8]), vec![1, 4]);
        assert_eq!(added(&[], &[5, 6]), vec![0, 1]);
        assert_eq!(added(&[5, 6], &[]), Vec::<usize>::new());
        assert_eq!(added(&[1, 2, 3], &[3, 2, 1]), vec![1, 2]);
    }
}
