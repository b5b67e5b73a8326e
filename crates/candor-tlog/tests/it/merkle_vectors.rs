//! RFC 6962 known-answer tests (the 8-leaf reference tree used by CT and transparency-dev).

use candor_tlog::merkle::{MemoryTree, TreeBuilder, frontier_nodes, root_from_entries};
use candor_tlog::proof::{
    ProofError, consistency_proof, inclusion_proof, tree_root, verify_consistency, verify_inclusion,
};
use candor_tlog::{Hash, NodeId, empty_root, leaf_hash};

use crate::{h, hex};

fn leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| hex(s))
    .collect()
}

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn level(l: usize) -> Vec<Hash> {
    let table: [&[&str]; 4] = [
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
        ],
        &[
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        ],
        &[
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
        &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
    ];
    table[l].iter().map(|s| h(s)).collect()
}

#[test]
fn empty_tree_root_is_sha256_of_nothing() {
    assert_eq!(empty_root(), h(ROOTS[0]));
    assert_eq!(root_from_entries::<Vec<u8>>(&[]), h(ROOTS[0]));
}

#[test]
fn roots_of_reference_tree_match_for_every_size() {
    let leaves = leaves();
    for size in 0..=8 {
        assert_eq!(
            root_from_entries(&leaves[..size]),
            h(ROOTS[size]),
            "size {size}"
        );
    }
}

#[test]
fn every_stored_node_hash_matches_reference() {
    let leaves: Vec<Hash> = leaves().iter().map(|l| leaf_hash(l)).collect();
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    for l in 0..4 {
        for (i, want) in level(l).iter().enumerate() {
            assert_eq!(
                tree.node(NodeId::new(l as u8, i as u64)),
                Some(*want),
                "level {l} index {i}"
            );
        }
    }
}

#[test]
fn tree_builder_reports_completed_nodes_and_frontier() {
    let leaves: Vec<Hash> = leaves().iter().map(|l| leaf_hash(l)).collect();
    let mut b = TreeBuilder::new();
    let mut all = Vec::new();
    for (i, leaf) in leaves.iter().enumerate() {
        all.extend(b.append(*leaf).unwrap());
        assert_eq!(b.root(), h(ROOTS[i + 1]));
        assert_eq!(b.frontier().len(), frontier_nodes(b.size()).len());
    }
    // 8 leaves + 4 + 2 + 1 interior nodes.
    assert_eq!(all.len(), 15);
    assert!(all.contains(&(NodeId::new(3, 0), h(ROOTS[8]))));
    let resumed = TreeBuilder::from_frontier(8, b.frontier().to_vec()).unwrap();
    assert_eq!(resumed.root(), h(ROOTS[8]));
    assert!(TreeBuilder::from_frontier(7, vec![]).is_err());
}

#[test]
fn known_inclusion_proofs() {
    let leaves: Vec<Hash> = leaves().iter().map(|l| leaf_hash(l)).collect();
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    let (l0, l1, l2) = (level(0), level(1), level(2));
    let cases: Vec<(u64, u64, Vec<Hash>)> = vec![
        (0, 1, vec![]),
        (0, 8, vec![l0[1], l1[1], l2[1]]),
        (5, 8, vec![l0[4], l1[3], l2[0]]),
        (2, 3, vec![l1[0]]),
        (1, 5, vec![l0[0], l1[1], l0[4]]),
        (6, 7, vec![l1[2], l2[0]]),
    ];
    for (index, size, want) in cases {
        let sub = MemoryTree::from_leaf_hashes(&leaves[..size as usize]);
        let got = inclusion_proof(index, size, &sub).unwrap();
        assert_eq!(got, want, "leaf {index} size {size}");
        verify_inclusion(
            index,
            size,
            &leaves[index as usize],
            &got,
            &h(ROOTS[size as usize]),
        )
        .unwrap();
        // Also generated from the full tree's stored nodes.
        assert_eq!(inclusion_proof(index, size, &tree).unwrap(), want);
    }
}

#[test]
fn known_consistency_proofs() {
    let leaves: Vec<Hash> = leaves().iter().map(|l| leaf_hash(l)).collect();
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    let (l0, l1, l2) = (level(0), level(1), level(2));
    let d4_7 = candor_tlog::node_hash(&l1[2], &l0[6]);
    let cases: Vec<(u64, u64, Vec<Hash>)> = vec![
        (1, 1, vec![]),
        (1, 8, vec![l0[1], l1[1], l2[1]]),
        (6, 8, vec![l1[2], l1[3], l2[0]]),
        (2, 5, vec![l1[1], l0[4]]),
        (3, 7, vec![l0[2], l0[3], l1[0], d4_7]),
        (4, 7, vec![d4_7]),
    ];
    for (old, new, want) in cases {
        let got = consistency_proof(old, new, &tree).unwrap();
        assert_eq!(got, want, "consistency {old}->{new}");
        verify_consistency(
            old,
            new,
            &h(ROOTS[old as usize]),
            &h(ROOTS[new as usize]),
            &got,
        )
        .unwrap();
    }
}

#[test]
fn tree_root_from_reader_matches() {
    let leaves: Vec<Hash> = leaves().iter().map(|l| leaf_hash(l)).collect();
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    for size in 0..=8u64 {
        assert_eq!(tree_root(size, &tree).unwrap(), h(ROOTS[size as usize]));
    }
}

#[test]
fn proof_edge_cases() {
    let leaves: Vec<Hash> = leaves().iter().map(|l| leaf_hash(l)).collect();
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    let root8 = h(ROOTS[8]);
    // Index out of range and the empty tree.
    assert!(matches!(
        inclusion_proof(8, 8, &tree),
        Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
    ));
    assert!(matches!(
        inclusion_proof(0, 0, &tree),
        Err(ProofError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        verify_inclusion(0, 0, &leaves[0], &[], &empty_root()),
        Err(ProofError::IndexOutOfRange { .. })
    ));
    // Wrong proof length, in both directions.
    let proof = inclusion_proof(3, 8, &tree).unwrap();
    let err = verify_inclusion(3, 8, &leaves[3], &proof[..2], &root8).unwrap_err();
    assert_eq!(
        err.to_string(),
        "inclusion proof has 2 hashes, expected 3 for leaf 3 in tree size 8"
    );
    let mut long = proof.clone();
    long.push(root8);
    assert!(matches!(
        verify_inclusion(3, 8, &leaves[3], &long, &root8),
        Err(ProofError::WrongLength { .. })
    ));
    // Wrong leaf gives a root mismatch naming both roots.
    let err = verify_inclusion(3, 8, &leaves[4], &proof, &root8).unwrap_err();
    assert!(err.to_string().contains("computes root"), "{err}");
    // Consistency: first == second, first == 0, first > second.
    verify_consistency(8, 8, &root8, &root8, &[]).unwrap();
    assert!(matches!(
        verify_consistency(8, 8, &root8, &h(ROOTS[7]), &[]),
        Err(ProofError::EqualSizeRootsDiffer { .. })
    ));
    assert!(matches!(
        verify_consistency(8, 8, &root8, &root8, &[root8]),
        Err(ProofError::WrongLength { expected: 0, .. })
    ));
    verify_consistency(0, 8, &empty_root(), &root8, &[]).unwrap();
    assert!(verify_consistency(0, 8, &empty_root(), &root8, &[root8]).is_err());
    assert!(matches!(
        verify_consistency(0, 8, &root8, &root8, &[]),
        Err(ProofError::OldRootMismatch { .. })
    ));
    assert!(matches!(
        verify_consistency(8, 7, &root8, &h(ROOTS[7]), &[]),
        Err(ProofError::SizesReversed { .. })
    ));
    assert!(matches!(
        consistency_proof(8, 7, &tree),
        Err(ProofError::SizesReversed { .. })
    ));
    assert_eq!(consistency_proof(0, 8, &tree).unwrap(), vec![]);
    assert_eq!(consistency_proof(5, 5, &tree).unwrap(), vec![]);
    // Empty proof for 0 < old < new is rejected.
    assert!(matches!(
        verify_consistency(3, 8, &h(ROOTS[3]), &root8, &[]),
        Err(ProofError::WrongLength { .. })
    ));
    // Missing stored hashes surface as read errors, not panics.
    let small = MemoryTree::from_leaf_hashes(&leaves[..3]);
    assert!(matches!(
        inclusion_proof(0, 8, &small),
        Err(ProofError::Read(_))
    ));
}

#[test]
fn go_sumdb_record_hash_vector() {
    // Go's golden checkpoint uses RecordHash("hello world"), which is the RFC 6962 leaf hash.
    assert_eq!(
        leaf_hash(b"hello world").to_base64(),
        "TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0="
    );
}

#[test]
fn huge_sizes_do_not_overflow() {
    let leaf = leaf_hash(b"x");
    // Verifying against u64::MAX-sized trees exercises the 64-level edge without panicking.
    let proof = vec![leaf; 64];
    assert!(verify_inclusion(u64::MAX - 1, u64::MAX, &leaf, &proof, &leaf).is_err());
    assert!(verify_consistency(u64::MAX - 1, u64::MAX, &leaf, &leaf, &proof).is_err());
    assert!(verify_consistency(1, u64::MAX, &leaf, &leaf, &proof).is_err());
    assert_eq!(frontier_nodes(u64::MAX).len(), 64);
}
