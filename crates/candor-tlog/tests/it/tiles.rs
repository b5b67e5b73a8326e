//! tlog-tiles paths, tile sets, tile contents and entry bundles.

use std::collections::HashMap;

use candor_tlog::bundle::{
    BundleError, bundle_leaf_hashes, encode_bundle, parse_bundle, parse_bundle_exact,
};
use candor_tlog::merkle::{MemoryTree, root_from_entries};
use candor_tlog::tiles::{
    TileError, TileHashReader, build_tiles, extend_tiles, new_tiles, tile_for_node, tile_width_at,
};
use candor_tlog::{BundleId, Hash, NodeId, TileId, TilePath, leaf_hash};
use proptest::prelude::*;

#[test]
fn spec_path_examples() {
    let t = TileId::new(0, 1234067, 256).unwrap();
    assert_eq!(t.path(), "tile/0/x001/x234/067");
    assert_eq!(TileId::new(1, 1000, 256).unwrap().path(), "tile/1/x001/000");
    assert_eq!(TileId::new(2, 5, 256).unwrap().path(), "tile/2/005");
    assert_eq!(
        TileId::new(0, 1234067, 8).unwrap().path(),
        "tile/0/x001/x234/067.p/8"
    );
    assert_eq!(BundleId::new(0, 3).unwrap().path(), "tile/entries/000.p/3");
    assert_eq!(
        BundleId::new(1234067, 256).unwrap().path(),
        "tile/entries/x001/x234/067"
    );
    assert_eq!(
        TileId::parse_path("tile/0/x001/x234/067.p/8").unwrap(),
        TileId::new(0, 1234067, 8).unwrap()
    );
    assert_eq!(
        TilePath::parse("tile/entries/x001/000").unwrap(),
        TilePath::Entries(BundleId::new(1000, 256).unwrap())
    );
    assert_eq!(
        TileId::new(0, u64::MAX >> 8, 256).unwrap().path(),
        "tile/0/x072/x057/x594/x037/x927/935"
    );
}

#[test]
fn malformed_paths_are_rejected() {
    for bad in [
        "",
        "tile",
        "tile/",
        "tile/0",
        "tile/0/",
        "tile/0/5",
        "tile/0/05",
        "tile/0/0005",
        "tile/00/005",
        "tile/-1/005",
        "tile/64/000",
        "tile/0/001/002",
        "tile/0/x001",
        "tile/0/x000/005",
        "tile/0/x001/x234/067.p/0",
        "tile/0/005.p/256",
        "tile/0/005.p/08",
        "tile/0/005.p/",
        "tile/0/005.p",
        "tile/0/005/",
        "/tile/0/005",
        "tile/data/005",
        "tile/entries/005.p/1/x",
        "tile/8/000/x001",
        "tile/0/x018/x446/x744/x073/x709/x551/615",
        "tile/7/001",
    ] {
        assert!(TilePath::parse(bad).is_err(), "{bad:?} was accepted");
    }
    assert!(matches!(
        TileId::parse_path("tile/entries/000"),
        Err(TileError::Path { .. })
    ));
    assert!(matches!(
        TilePath::parse("tile/99/000"),
        Err(TileError::Level { level: 99 })
    ));
    assert!(TilePath::parse("tile/63/000").is_ok());
}

#[test]
fn spec_tiles_for_size_70000() {
    let tiles = new_tiles(0, 70_000).unwrap();
    let level0: Vec<_> = tiles.iter().filter(|t| t.level == 0).collect();
    assert_eq!(level0.len(), 274);
    assert_eq!(level0.iter().filter(|t| t.is_full()).count(), 273);
    assert_eq!(*level0[273], TileId::new(0, 273, 112).unwrap());
    let level1: Vec<_> = tiles.iter().filter(|t| t.level == 1).collect();
    assert_eq!(
        level1,
        vec![
            &TileId::new(1, 0, 256).unwrap(),
            &TileId::new(1, 1, 17).unwrap()
        ]
    );
    let level2: Vec<_> = tiles.iter().filter(|t| t.level == 2).collect();
    assert_eq!(level2, vec![&TileId::new(2, 0, 1).unwrap()]);
    assert_eq!(tiles.len(), 274 + 2 + 1);
    // Size 256: one full level-0 tile plus tile/1/000.p/1.
    let t256 = new_tiles(0, 256).unwrap();
    assert_eq!(
        t256.iter().map(|t| t.path()).collect::<Vec<_>>(),
        vec!["tile/0/000", "tile/1/000.p/1"]
    );
    // Growing 256 -> 300 rewrites only the new partial tiles.
    let grown = new_tiles(256, 300).unwrap();
    assert_eq!(
        grown.iter().map(|t| t.path()).collect::<Vec<_>>(),
        vec!["tile/0/001.p/44"]
    );
    assert_eq!(new_tiles(5, 5).unwrap(), vec![]);
    assert!(new_tiles(6, 5).is_err());
    assert_eq!(tile_width_at(0, 273, 70_000), 112);
    assert_eq!(tile_width_at(0, 274, 70_000), 0);
}

#[test]
fn spec_entry_bundle_example() {
    let bundle = encode_bundle(&[b"a", b"b", b"c"]).unwrap();
    assert_eq!(bundle, vec![0, 1, 0x61, 0, 1, 0x62, 0, 1, 0x63]);
    assert_eq!(
        parse_bundle(&bundle).unwrap(),
        vec![b"a".as_slice(), b"b", b"c"]
    );
    let hashes = bundle_leaf_hashes(&bundle).unwrap();
    let update = build_tiles(&hashes).unwrap();
    assert_eq!(
        update.root.to_base64(),
        "NmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE="
    );
    assert_eq!(update.tiles.len(), 1);
    let (tile, data) = &update.tiles[0];
    assert_eq!(tile.path(), "tile/0/000.p/3");
    assert_eq!(data.len(), 96);
    assert_eq!(tile.parse_data(data).unwrap(), hashes);
    assert_eq!(root_from_entries(&[b"a", b"b", b"c"]), update.root);
}

#[test]
fn malformed_bundles_are_rejected() {
    assert_eq!(parse_bundle(&[]), Err(BundleError::Empty));
    assert_eq!(
        parse_bundle(&[0]),
        Err(BundleError::TruncatedLength {
            index: 0,
            offset: 0
        })
    );
    assert_eq!(
        parse_bundle(&[0, 3, 1]),
        Err(BundleError::TruncatedEntry {
            index: 0,
            declared: 3,
            available: 1
        })
    );
    assert_eq!(
        parse_bundle(&[0, 0, 0, 1, 9, 0]),
        Err(BundleError::TruncatedLength {
            index: 2,
            offset: 5
        })
    );
    let too_many = vec![0u8; 257 * 2];
    assert_eq!(parse_bundle(&too_many), Err(BundleError::TooManyEntries));
    assert_eq!(parse_bundle(&vec![0u8; 256 * 2]).unwrap().len(), 256);
    assert_eq!(
        parse_bundle_exact(&[0, 0], 2),
        Err(BundleError::WrongCount {
            got: 1,
            expected: 2
        })
    );
    let big = vec![0u8; 65_536];
    assert!(matches!(
        encode_bundle(&[big.as_slice()]),
        Err(BundleError::EntryTooLarge {
            index: 0,
            size: 65_536
        })
    ));
    let max = vec![7u8; 65_535];
    let enc = encode_bundle(&[max.as_slice()]).unwrap();
    assert_eq!(parse_bundle(&enc).unwrap()[0].len(), 65_535);
    assert_eq!(encode_bundle::<&[u8]>(&[]), Err(BundleError::Empty));
}

#[test]
fn tile_data_validation() {
    let tile = TileId::new(0, 0, 3).unwrap();
    assert!(matches!(
        tile.parse_data(&[0; 95]),
        Err(TileError::DataLength {
            got: 95,
            expected: 96,
            ..
        })
    ));
    assert!(candor_tlog::tiles::parse_tile_hashes(&[]).is_err());
    assert!(candor_tlog::tiles::parse_tile_hashes(&[0; 8193]).is_err());
    assert!(TileId::new(0, 0, 0).is_err());
    assert!(TileId::new(0, 0, 257).is_err());
    assert!(TileId::new(64, 0, 1).is_err());
}

#[test]
fn node_locations_in_tiles() {
    // Leaf 300 in a tree of 1000: level-0 tile 1 (full at that size), offset 44.
    let (tile, start, end) = tile_for_node(NodeId::new(0, 300), 1000).unwrap();
    assert_eq!((tile.path().as_str(), start, end), ("tile/0/001", 44, 45));
    // A level-3 node covers 8 hashes of a level-0 tile.
    let (tile, start, end) = tile_for_node(NodeId::new(3, 100), 1000).unwrap();
    assert_eq!(
        (tile.path().as_str(), start, end),
        ("tile/0/003.p/232", 32, 40)
    );
    // Level-8 node index 2 is hash 2 of level-1 tile 0 (width 3 at size 1000).
    let (tile, start, end) = tile_for_node(NodeId::new(8, 2), 1000).unwrap();
    assert_eq!((tile.path().as_str(), start, end), ("tile/1/000.p/3", 2, 3));
    assert!(matches!(
        tile_for_node(NodeId::new(8, 3), 1000),
        Err(TileError::NodeOutsideTree { .. })
    ));
    assert!(tile_for_node(NodeId::new(200, 0), 1000).is_err());
}

#[test]
fn tile_reader_accepts_full_tile_for_partial_request_and_reports_missing() {
    let leaves: Vec<Hash> = (0..600u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let update = build_tiles(&leaves).unwrap();
    let tiles: HashMap<_, _> = update.tiles.into_iter().collect();
    // Read a tree of size 300 from tiles of size 600: the full tile 1 stands in for 001.p/44.
    let reader = TileHashReader::new(300, &tiles);
    let want = MemoryTree::from_leaf_hashes(&leaves[..300]).root();
    assert_eq!(candor_tlog::tree_root(300, &reader).unwrap(), want);
    let empty: HashMap<TileId, Vec<u8>> = HashMap::new();
    let err = candor_tlog::tree_root(300, &TileHashReader::new(300, &empty)).unwrap_err();
    assert_eq!(err.to_string(), "tile tile/1/000.p/1: not available");
    // A short tile is reported, not a panic.
    let mut short = tiles.clone();
    short.insert(TileId::new(0, 1, 256).unwrap(), vec![0; 64]);
    assert!(candor_tlog::tree_root(300, &TileHashReader::new(300, &short)).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn path_round_trip(level in 0u8..8, index in any::<u64>(), width in 1u16..=256) {
        let shift = 8 * (u32::from(level) + 1);
        let tile_index = if shift >= 64 { 0 } else { index >> shift };
        let index = tile_index;
        let tile = TileId::new(level, index, width).unwrap();
        prop_assert_eq!(TileId::parse_path(&tile.path()).unwrap(), tile);
        let bundle = BundleId::new(index >> 8, width).unwrap();
        prop_assert_eq!(TilePath::parse(&bundle.path()).unwrap(), TilePath::Entries(bundle));
    }

    #[test]
    fn path_parser_never_panics(s in "(tile/)?[0-9a-z./x]{0,40}") {
        if let Ok(p) = TilePath::parse(&s) {
            prop_assert_eq!(p.path(), s);
        }
    }

    #[test]
    fn incremental_tiles_match_full_build(sizes in proptest::collection::vec(0usize..700, 1..5)) {
        let total: usize = sizes.iter().sum();
        let leaves: Vec<Hash> = (0..total as u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut stored: HashMap<TileId, Vec<u8>> = HashMap::new();
        let mut size = 0u64;
        for batch in &sizes {
            let new = &leaves[size as usize..size as usize + batch];
            let reader = TileHashReader::new(size, &stored);
            let update = extend_tiles(size, &reader, new).unwrap();
            prop_assert_eq!(update.tiles.iter().map(|(t, _)| *t).collect::<Vec<_>>(), new_tiles(size, update.size).unwrap());
            for (t, data) in update.tiles {
                stored.insert(t, data);
            }
            size = update.size;
            prop_assert_eq!(update.root, MemoryTree::from_leaf_hashes(&leaves[..size as usize]).root());
        }
        let full = build_tiles(&leaves).unwrap();
        for (tile, data) in full.tiles {
            prop_assert_eq!(stored.get(&tile), Some(&data), "tile {}", tile.path());
        }
    }

    #[test]
    fn bundle_round_trip(entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..40)) {
        let enc = encode_bundle(&entries).unwrap();
        let dec = parse_bundle(&enc).unwrap();
        prop_assert_eq!(dec.len(), entries.len());
        for (a, b) in dec.iter().zip(&entries) {
            prop_assert_eq!(*a, b.as_slice());
        }
    }

    #[test]
    fn bundle_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(entries) = parse_bundle(&bytes) {
            prop_assert_eq!(encode_bundle(&entries).unwrap(), bytes);
        }
    }
}
