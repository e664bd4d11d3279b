//! Retention's policy on made-up listings: guards, count, sizes, budget, unmet policies.

use super::*;
use proptest::prelude::*;

fn rec(i: usize, size: u64, pinned: bool) -> BackupRecord {
    BackupRecord {
        path: PathBuf::from(format!("/nonexistent/b/dev-{i:03}-pre-reset.sqlite3")),
        env: "dev".into(),
        source_path: "/nonexistent/dev.sqlite3".into(),
        created_at: format!("2026-01-01T00:00:{i:02}Z"),
        tool_version: "t".into(),
        schema_version: Some(2),
        reason: crate::backups::record::Reason::PreReset,
        label: None,
        size_bytes: size,
        sha256: String::new(),
        row_counts: Default::default(),
        pinned,
        stored: None,
        measured_bytes: None,
    }
}

fn policy(keep: usize, max_total_mib: u64, budget_mib: u64) -> Retention {
    Retention {
        keep,
        max_total_mib,
        budget_mib,
    }
}

fn names(items: &[PruneItem]) -> Vec<String> {
    items
        .iter()
        .map(|i| i.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_oldest_beyond_keep_go_and_guards_stay() {
    let list: Vec<_> = (0..6).map(|i| rec(i, MIB, i == 1)).collect();
    let guards = Guards {
        newest_verified: Some(list[5].path.clone()),
        undo_target: Some(list[0].path.clone()),
        just_made: Some(list[5].path.clone()),
        unchecked: vec![],
    };
    let sel = select(&list, &policy(2, 0, 0), 2, &guards, 0);
    assert_eq!(
        names(&sel.delete),
        ["dev-002-pre-reset.sqlite3", "dev-003-pre-reset.sqlite3"]
    );
    assert_eq!(sel.protected.len(), 2, "{:?}", sel.protected);
    assert!(sel.protected[0]
        .why
        .ends_with("the backup `undo` would restore"));
    assert!(sel.protected[1].why.ends_with("pinned"));
    let unmet = sel.unmet.expect("4 kept > keep 2 is reported");
    assert!(unmet.contains("4 backups are kept"), "{unmet}");
}

#[test]
fn a_budget_smaller_than_one_backup_deletes_all_but_the_guarded_and_says_so() {
    let list: Vec<_> = (0..3).map(|i| rec(i, 10 * MIB, false)).collect();
    let guards = Guards {
        just_made: Some(list[2].path.clone()),
        newest_verified: Some(list[2].path.clone()),
        ..Guards::default()
    };
    let sel = select(&list, &policy(10, 0, 1), 10, &guards, 0);
    assert_eq!(sel.delete.len(), 2);
    assert!(sel.unmet.unwrap().contains("retention.budget_mib = 1"));
}

#[test]
fn other_envs_count_against_the_budget_but_are_not_deleted_here() {
    let list: Vec<_> = (0..3).map(|i| rec(i, 10 * MIB, false)).collect();
    let sel = select(&list, &policy(10, 0, 25), 10, &Guards::default(), 10 * MIB);
    assert_eq!(
        sel.delete.len(),
        2,
        "30 + 10 MiB over a 25 MiB budget: two of ours go"
    );
    assert_eq!(sel.unmet, None);
}

#[test]
fn a_policy_out_of_range_deletes_nothing_and_says_so() {
    let list: Vec<_> = (0..3).map(|i| rec(i, MIB, false)).collect();
    let sel = select(&list, &policy(0, 0, 0), 0, &Guards::default(), 0);
    assert!(sel.delete.is_empty(), "{:?}", sel.delete);
    assert!(sel.unmet.unwrap().contains("out of range"));
}

#[test]
fn within_policy_nothing_goes() {
    let list: Vec<_> = (0..3).map(|i| rec(i, MIB, false)).collect();
    let sel = select(&list, &policy(3, 3, 3), 3, &Guards::default(), 0);
    assert!(sel.delete.is_empty() && sel.protected.is_empty() && sel.unmet.is_none());
}

proptest! {
    /// Whatever the listing, policy and guards: no guarded backup is deleted, the deleted ones
    /// are the oldest unguarded ones, and when nothing is reported unmet the policy holds after.
    #[test]
    fn retention_never_deletes_a_guarded_backup_and_meets_or_reports(
        sizes in prop::collection::vec(0u64..50, 0..30),
        pins in prop::collection::vec(any::<bool>(), 30),
        keep in 1usize..8,
        max_mib in 0u64..200,
        budget_mib in 0u64..300,
        others in 0u64..100,
        undo in prop::option::of(0usize..30),
        newest in prop::option::of(0usize..30),
    ) {
        let list: Vec<_> = sizes.iter().enumerate().map(|(i, s)| rec(i, s * MIB, pins[i])).collect();
        let at = |i: Option<usize>| i.and_then(|i| list.get(i)).map(|b| b.path.clone());
        let guards = Guards { newest_verified: at(newest), undo_target: at(undo), just_made: list.last().map(|b| b.path.clone()), unchecked: vec![] };
        let sel = select(&list, &policy(keep, max_mib, budget_mib), keep, &guards, others * MIB);
        for d in &sel.delete {
            let b = list.iter().find(|b| b.path == d.path).unwrap();
            prop_assert!(guards.why_kept(b).is_none(), "deleted a guarded backup: {}", d.why);
        }
        let left: Vec<_> = list.iter().filter(|b| !sel.delete.iter().any(|d| d.path == b.path)).collect();
        let bytes: u64 = left.iter().map(|b| b.size_bytes).sum();
        if sel.unmet.is_none() {
            prop_assert!(left.len() <= keep);
            prop_assert!(max_mib == 0 || bytes <= max_mib * MIB);
            prop_assert!(budget_mib == 0 || bytes + others * MIB <= budget_mib * MIB);
        }
        // Nothing is deleted while the policy already holds without it: each deleted backup is
        // older than every unguarded one left.
        if let Some(last) = sel.delete.last() {
            for b in left.iter().filter(|b| guards.why_kept(b).is_none()) {
                prop_assert!(b.created_at > last.created_at);
            }
        }
    }
}
