//! Property tests: proofs from random trees verify, every single bit flip is rejected, and the
//! optimised code agrees with a direct transcription of the RFC 6962 recursive definitions.

use std::collections::HashMap;

use candor_tlog::merkle::{MemoryTree, root_from_leaf_hashes};
use candor_tlog::proof::{
    consistency_proof, consistency_proof_nodes, inclusion_proof, inclusion_proof_nodes, tree_root,
    tree_root_nodes, verify_consistency, verify_inclusion,
};
use candor_tlog::tiles::{TileHashReader, build_tiles, tiles_for_nodes};
use candor_tlog::{Hash, leaf_hash, node_hash};
use proptest::prelude::*;

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
        .collect()
}

/// MTH straight from RFC 6962 §2.1.
fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => candor_tlog::empty_root(),
        1 => d[0],
        n => {
            let k = k_of(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// PATH(m, D) from RFC 6962 §2.1.1.
fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return vec![];
    }
    let k = k_of(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// SUBPROOF(m, D, b) from RFC 6962 §2.1.2.
fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    if m == d.len() {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(d.len());
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut b = h.0;
    b[(bit / 8) % 32] ^= 1 << (bit % 8);
    Hash(b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn root_matches_rfc_definition(n in 0usize..600) {
        let l = leaves(n);
        prop_assert_eq!(root_from_leaf_hashes(&l), mth(&l));
    }

    #[test]
    fn inclusion_proofs_verify_and_reject_bit_flips(
        n in 1usize..600, index_seed in any::<usize>(), bit in 0usize..256, target_seed in any::<usize>()
    ) {
        let l = leaves(n);
        let index = index_seed % n;
        let tree = MemoryTree::from_leaf_hashes(&l);
        let root = tree.root();
        let proof = inclusion_proof(index as u64, n as u64, &tree).unwrap();
        prop_assert_eq!(&proof, &path(index, &l));
        verify_inclusion(index as u64, n as u64, &l[index], &proof, &root).unwrap();

        // Flip one bit in one of: the leaf, the root, or one proof hash.
        let target = target_seed % (proof.len() + 2);
        let (mut leaf, mut r, mut p) = (l[index], root, proof.clone());
        match target {
            0 => leaf = flip(&leaf, bit),
            1 => r = flip(&r, bit),
            t => p[t - 2] = flip(&p[t - 2], bit),
        }
        prop_assert!(verify_inclusion(index as u64, n as u64, &leaf, &p, &r).is_err());
        // Dropping or adding a hash is rejected too.
        if !proof.is_empty() {
            prop_assert!(verify_inclusion(index as u64, n as u64, &l[index], &proof[1..], &root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(index as u64, n as u64, &l[index], &longer, &root).is_err());
    }

    #[test]
    fn consistency_proofs_verify_and_reject_bit_flips(
        new in 1usize..600, old_seed in any::<usize>(), bit in 0usize..256, target_seed in any::<usize>()
    ) {
        let l = leaves(new);
        let old = old_seed % (new + 1);
        let tree = MemoryTree::from_leaf_hashes(&l);
        let old_root = mth(&l[..old]);
        let new_root = tree.root();
        let proof = consistency_proof(old as u64, new as u64, &tree).unwrap();
        if old > 0 && old < new {
            prop_assert_eq!(&proof, &subproof(old, &l, true));
        } else {
            prop_assert!(proof.is_empty());
        }
        verify_consistency(old as u64, new as u64, &old_root, &new_root, &proof).unwrap();

        let target = target_seed % (proof.len() + 2);
        let (mut a, mut b, mut p) = (old_root, new_root, proof.clone());
        match target {
            0 => a = flip(&a, bit),
            1 => b = flip(&b, bit),
            t => p[t - 2] = flip(&p[t - 2], bit),
        }
        // Every new root is consistent with the empty tree, so that one flip is legitimately accepted.
        if !(old == 0 && target == 1) {
            prop_assert!(verify_consistency(old as u64, new as u64, &a, &b, &p).is_err());
        }
    }

    #[test]
    fn tiles_give_the_same_roots_and_proofs(n in 1usize..1200, index_seed in any::<usize>(), old_seed in any::<usize>()) {
        let l = leaves(n);
        let tree = MemoryTree::from_leaf_hashes(&l);
        let update = build_tiles(&l).unwrap();
        prop_assert_eq!(update.root, tree.root());
        let tiles: HashMap<_, _> = update.tiles.into_iter().collect();
        let reader = TileHashReader::new(n as u64, &tiles);
        prop_assert_eq!(tree_root(n as u64, &reader).unwrap(), tree.root());
        let index = (index_seed % n) as u64;
        prop_assert_eq!(
            inclusion_proof(index, n as u64, &reader).unwrap(),
            inclusion_proof(index, n as u64, &tree).unwrap()
        );
        let old = (old_seed % (n + 1)) as u64;
        prop_assert_eq!(
            consistency_proof(old, n as u64, &reader).unwrap(),
            consistency_proof(old, n as u64, &tree).unwrap()
        );
        // A verifier fetching only the tiles named by tiles_for_nodes can compute everything.
        let mut nodes = inclusion_proof_nodes(index, n as u64).unwrap();
        nodes.extend(consistency_proof_nodes(old, n as u64).unwrap());
        nodes.extend(tree_root_nodes(n as u64));
        let needed = tiles_for_nodes(&nodes, n as u64).unwrap();
        let subset: HashMap<_, _> = needed.iter().map(|t| (*t, tiles[t].clone())).collect();
        let sub_reader = TileHashReader::new(n as u64, &subset);
        prop_assert_eq!(tree_root(n as u64, &sub_reader).unwrap(), tree.root());
        prop_assert!(inclusion_proof(index, n as u64, &sub_reader).is_ok());
        prop_assert!(consistency_proof(old, n as u64, &sub_reader).is_ok());
    }
}
