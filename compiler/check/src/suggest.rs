//! Did-you-mean suggestions.

/// The candidate closest to `name` by edit distance, if close enough to be a typo.
/// Ties go to the alphabetically first candidate, so suggestions are deterministic.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        let mut row = Vec::with_capacity(b.len() + 1);
        row.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let diag = prev.get(j).copied().unwrap_or(usize::MAX - 1) + cost;
            let up = prev.get(j + 1).copied().unwrap_or(usize::MAX - 1) + 1;
            let left = row.last().copied().unwrap_or(usize::MAX - 1) + 1;
            row.push(diag.min(up).min(left));
        }
        cur = row;
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("replcas", ["replicas", "rollout"]), Some("replicas"));
        assert_eq!(did_you_mean("xyz", ["replicas", "rollout"]), None);
        assert_eq!(did_you_mean("modle", ["model", "mode"]), Some("model"));
    }
}
