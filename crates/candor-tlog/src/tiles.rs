//! C2SP tlog-tiles (`c2sp.org/tlog-tiles@v0.1.0`): tile coordinates and paths, which tiles a
//! tree has, building tile contents, and reading subtree hashes back out of tiles.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use thiserror::Error;

use crate::encoding::excerpt;
use crate::merkle::{
    HASH_SIZE, Hash, NodeId, TreeBuilder, TreeBuilderError, complete_subtree_root,
};
use crate::proof::{HashReadError, HashReader};

/// Merkle levels per tile.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile (2^8).
pub const TILE_WIDTH: u16 = 256;
/// Bytes in a full tile.
pub const FULL_TILE_SIZE: usize = TILE_WIDTH as usize * HASH_SIZE;
/// Highest tile level allowed in a path by the spec.
pub const MAX_TILE_LEVEL: u8 = 63;

/// Why a tile path, tile or tile computation is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TileError {
    /// The path does not follow `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
    #[error("tile path {path:?} is malformed: {reason}")]
    Path {
        /// The path (shortened).
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The level is larger than 63.
    #[error("tile level {level} is larger than 63")]
    Level {
        /// The level.
        level: u64,
    },
    /// The width is not between 1 and 256.
    #[error("tile width {width} is not between 1 and 256")]
    Width {
        /// The width.
        width: u64,
    },
    /// The tile lies beyond any 64-bit tree.
    #[error("tile level {level} index {index} starts beyond the largest 64-bit tree")]
    IndexTooLarge {
        /// Tile level.
        level: u8,
        /// Tile index.
        index: u64,
    },
    /// Tile data has the wrong length.
    #[error("tile {path} has {got} bytes, expected {expected}")]
    DataLength {
        /// The tile path.
        path: String,
        /// Bytes found.
        got: usize,
        /// Bytes required.
        expected: usize,
    },
    /// Tile data length is not a whole number of hashes between 1 and 256.
    #[error("tile data of {got} bytes is not 1 to 256 whole 32-byte hashes")]
    DataShape {
        /// Bytes found.
        got: usize,
    },
    /// The node is not a complete subtree of the tree.
    #[error("node at level {} index {} is not a complete subtree of a tree of size {tree_size}", node.level, node.index)]
    NodeOutsideTree {
        /// The node.
        node: NodeId,
        /// Tree size.
        tree_size: u64,
    },
    /// The old tree is larger than the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizesReversed {
        /// Old size.
        old_size: u64,
        /// New size.
        new_size: u64,
    },
    /// Reading existing hashes failed.
    #[error(transparent)]
    Read(#[from] HashReadError),
    /// The tree cannot grow.
    #[error(transparent)]
    Tree(#[from] TreeBuilderError),
}

/// A hash tile: level, index, and width (256 for a full tile, 1–255 for a partial one).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct TileId {
    /// Tile level (hashes at Merkle level `8 * level`).
    pub level: u8,
    /// Tile index within its level.
    pub index: u64,
    /// Number of hashes (1–256).
    pub width: u16,
}

impl TileId {
    /// Creates a tile coordinate, checking level, width and index range.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Self, TileError> {
        if level > MAX_TILE_LEVEL {
            return Err(TileError::Level {
                level: u64::from(level),
            });
        }
        if width == 0 || width > TILE_WIDTH {
            return Err(TileError::Width {
                width: u64::from(width),
            });
        }
        check_index_fits(level, index)?;
        Ok(TileId {
            level,
            index,
            width,
        })
    }

    /// True for a full (256-hash) tile.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The same tile at full width.
    pub fn full(&self) -> TileId {
        TileId {
            width: TILE_WIDTH,
            ..*self
        }
    }

    /// Expected byte length of the tile's data.
    pub fn data_len(&self) -> usize {
        usize::from(self.width) * HASH_SIZE
    }

    /// The tile's path, e.g. `tile/0/x001/x234/067.p/8`.
    pub fn path(&self) -> String {
        format!(
            "tile/{}/{}{}",
            self.level,
            encode_index(self.index),
            width_suffix(self.width)
        )
    }

    /// Parses a hash tile path (`tile/<L>/<N>[.p/<W>]`).
    pub fn parse_path(path: &str) -> Result<Self, TileError> {
        match TilePath::parse(path)? {
            TilePath::Hashes(tile) => Ok(tile),
            TilePath::Entries(_) => Err(TileError::Path {
                path: excerpt(path),
                reason: "this is an entry bundle path, not a hash tile path",
            }),
        }
    }

    /// Splits tile data into its hashes, checking it is exactly `width` hashes long.
    pub fn parse_data(&self, data: &[u8]) -> Result<Vec<Hash>, TileError> {
        if data.len() != self.data_len() {
            return Err(TileError::DataLength {
                path: self.path(),
                got: data.len(),
                expected: self.data_len(),
            });
        }
        parse_tile_hashes(data)
    }
}

/// An entry bundle: the entries behind level-0 tile `index`, `width` of them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct BundleId {
    /// Bundle index (same as the level-0 tile index).
    pub index: u64,
    /// Number of entries (1–256).
    pub width: u16,
}

impl BundleId {
    /// Creates an entry bundle coordinate, checking width and index range.
    pub fn new(index: u64, width: u16) -> Result<Self, TileError> {
        TileId::new(0, index, width)?;
        Ok(BundleId { index, width })
    }

    /// The bundle's path, e.g. `tile/entries/x001/234.p/3`.
    pub fn path(&self) -> String {
        format!(
            "tile/entries/{}{}",
            encode_index(self.index),
            width_suffix(self.width)
        )
    }

    /// The level-0 hash tile holding the leaf hashes of these entries.
    pub fn hash_tile(&self) -> TileId {
        TileId {
            level: 0,
            index: self.index,
            width: self.width,
        }
    }

    /// Index of the first entry in the bundle.
    pub fn first_entry(&self) -> u64 {
        self.index.saturating_mul(u64::from(TILE_WIDTH))
    }
}

/// A parsed tile path: either a hash tile or an entry bundle.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`.
    Hashes(TileId),
    /// `tile/entries/<N>[.p/<W>]`.
    Entries(BundleId),
}

impl TilePath {
    /// Parses a tile or entry bundle path (relative to the log prefix, no leading slash).
    /// Only the canonical encoding is accepted.
    pub fn parse(path: &str) -> Result<Self, TileError> {
        let err = |reason: &'static str| TileError::Path {
            path: excerpt(path),
            reason,
        };
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| err("does not start with \"tile/\""))?;
        let (kind, rest) = rest
            .split_once('/')
            .ok_or_else(|| err("missing tile index"))?;
        let level = if kind == "entries" {
            None
        } else {
            let level = parse_small_decimal(kind).ok_or_else(|| {
                err("level is not \"entries\" or a decimal without leading zeros")
            })?;
            if level > u64::from(MAX_TILE_LEVEL) {
                return Err(TileError::Level { level });
            }
            Some(level as u8)
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((index_part, width_text)) => {
                let width = parse_small_decimal(width_text)
                    .ok_or_else(|| err("partial width is not a decimal without leading zeros"))?;
                if width == 0 || width >= u64::from(TILE_WIDTH) {
                    return Err(TileError::Width { width });
                }
                (index_part, width as u16)
            }
            None => (rest, TILE_WIDTH),
        };
        let index = decode_index(index_part).ok_or_else(|| {
            err("index is not 3-digit groups, all but the last prefixed with 'x', without a leading zero group")
        })?;
        match level {
            Some(level) => Ok(TilePath::Hashes(TileId::new(level, index, width)?)),
            None => Ok(TilePath::Entries(BundleId::new(index, width)?)),
        }
    }

    /// Formats the path.
    pub fn path(&self) -> String {
        match self {
            TilePath::Hashes(tile) => tile.path(),
            TilePath::Entries(bundle) => bundle.path(),
        }
    }
}

fn width_suffix(width: u16) -> String {
    if width >= TILE_WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    }
}

fn parse_small_decimal(text: &str) -> Option<u64> {
    if text.len() > 3 {
        return None;
    }
    crate::encoding::parse_canonical_u64(text)
}

fn check_index_fits(level: u8, index: u64) -> Result<(), TileError> {
    // The tile's first leaf is index * 256^(level+1); it must be a valid u64 leaf index.
    let shift = 8 * (u32::from(level) + 1);
    let fits = index == 0 || (shift < 64 && index <= (u64::MAX >> shift));
    if fits {
        Ok(())
    } else {
        Err(TileError::IndexTooLarge { level, index })
    }
}

/// Encodes a tile index as 3-digit groups, all but the last prefixed with `x`.
fn encode_index(index: u64) -> String {
    let digits = index.to_string();
    let padded = format!("{}{digits}", "0".repeat((3 - digits.len() % 3) % 3));
    let groups: Vec<&str> = padded
        .as_bytes()
        .chunks(3)
        .map(|c| std::str::from_utf8(c).unwrap_or("000"))
        .collect();
    let last = groups.len() - 1;
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            if i < last {
                format!("x{g}")
            } else {
                (*g).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn decode_index(text: &str) -> Option<u64> {
    let groups: Vec<&str> = text.split('/').collect();
    // u64::MAX has 20 digits: at most 7 groups.
    if groups.is_empty() || groups.len() > 7 {
        return None;
    }
    let last = groups.len() - 1;
    let mut value: u64 = 0;
    for (i, group) in groups.iter().enumerate() {
        let digits = if i < last {
            group.strip_prefix('x')?
        } else {
            group
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if i == 0 && last > 0 && digits == "000" {
            return None;
        }
        let group_value: u64 = digits.parse().ok()?;
        value = value.checked_mul(1000)?.checked_add(group_value)?;
    }
    // Reject non-canonical forms such as a leading group of "000" hidden by the check above.
    (encode_index(value) == text).then_some(value)
}

/// Splits tile data into hashes; it must be 1 to 256 whole hashes.
pub fn parse_tile_hashes(data: &[u8]) -> Result<Vec<Hash>, TileError> {
    if data.is_empty() || !data.len().is_multiple_of(HASH_SIZE) || data.len() > FULL_TILE_SIZE {
        return Err(TileError::DataShape { got: data.len() });
    }
    Ok(data
        .chunks_exact(HASH_SIZE)
        .map(|chunk| {
            let mut h = [0u8; HASH_SIZE];
            h.copy_from_slice(chunk);
            Hash(h)
        })
        .collect())
}

/// Number of hashes tile (`level`, `index`) holds in a tree of `tree_size` leaves (0–256).
pub fn tile_width_at(level: u8, index: u64, tree_size: u64) -> u16 {
    let shift = 8 * u32::from(level);
    let count = tree_size.checked_shr(shift).unwrap_or(0);
    let first = u128::from(index) * u128::from(TILE_WIDTH);
    let remaining = u128::from(count).saturating_sub(first);
    remaining.min(u128::from(TILE_WIDTH)) as u16
}

/// Tiles (full and partial) that exist at `new_size` but not, with the same contents, at
/// `old_size`: the tiles a log writes when it grows from `old_size` to `new_size`.
/// With `old_size == 0` this lists every tile of the tree.
pub fn new_tiles(old_size: u64, new_size: u64) -> Result<Vec<TileId>, TileError> {
    if old_size > new_size {
        return Err(TileError::SizesReversed { old_size, new_size });
    }
    let mut tiles = Vec::new();
    for level in 0..8u8 {
        let shift = 8 * u32::from(level);
        let new_count = new_size >> shift;
        if new_count == 0 {
            break;
        }
        let old_count = old_size >> shift;
        if old_count == new_count {
            continue;
        }
        let width = u64::from(TILE_WIDTH);
        for index in old_count / width..new_count / width {
            tiles.push(TileId {
                level,
                index,
                width: TILE_WIDTH,
            });
        }
        let partial = (new_count % width) as u16;
        if partial > 0 {
            tiles.push(TileId {
                level,
                index: new_count / width,
                width: partial,
            });
        }
    }
    Ok(tiles)
}

/// Location of a complete subtree's hash inside the tiles of a tree of `tree_size` leaves:
/// the tile (at the width that tree implies) and the range of its hashes to combine.
pub fn tile_for_node(node: NodeId, tree_size: u64) -> Result<(TileId, usize, usize), TileError> {
    let outside = TileError::NodeOutsideTree { node, tree_size };
    let (_, end) = node.leaf_range().ok_or_else(|| outside.clone())?;
    if end > tree_size {
        return Err(outside);
    }
    let tile_level = node.level / TILE_HEIGHT;
    let sub = u32::from(node.level % TILE_HEIGHT);
    // The node spans 2^sub consecutive hashes at Merkle level 8 * tile_level.
    let first = node.index << sub;
    let count = 1usize << sub;
    let width = u64::from(TILE_WIDTH);
    let tile_index = first / width;
    let offset = (first % width) as usize;
    let tile_width = tile_width_at(tile_level, tile_index, tree_size);
    let tile = TileId::new(tile_level, tile_index, tile_width).map_err(|_| outside)?;
    Ok((tile, offset, offset + count))
}

/// Tiles a verifier must download to read `nodes` from a tree of `tree_size` leaves.
pub fn tiles_for_nodes(nodes: &[NodeId], tree_size: u64) -> Result<Vec<TileId>, TileError> {
    let mut tiles: Vec<TileId> = Vec::new();
    for node in nodes {
        let (tile, _, _) = tile_for_node(*node, tree_size)?;
        if !tiles.contains(&tile) {
            tiles.push(tile);
        }
    }
    Ok(tiles)
}

/// Source of tile data for a [`TileHashReader`].
pub trait TileSource {
    /// Returns the data of `tile`. Returning a wider tile of the same level and index (e.g. the
    /// full tile when a partial one was asked for) is allowed. The map implementations look for
    /// the exact tile first, then any wider one.
    fn read_tile(&self, tile: TileId) -> Result<Vec<u8>, HashReadError>;
}

impl<S: std::hash::BuildHasher> TileSource for HashMap<TileId, Vec<u8>, S> {
    fn read_tile(&self, tile: TileId) -> Result<Vec<u8>, HashReadError> {
        (tile.width..=TILE_WIDTH)
            .find_map(|width| self.get(&TileId { width, ..tile }))
            .cloned()
            .ok_or_else(|| HashReadError::Tile {
                path: tile.path(),
                reason: "not available".to_owned(),
            })
    }
}

impl TileSource for BTreeMap<TileId, Vec<u8>> {
    fn read_tile(&self, tile: TileId) -> Result<Vec<u8>, HashReadError> {
        (tile.width..=TILE_WIDTH)
            .find_map(|width| self.get(&TileId { width, ..tile }))
            .cloned()
            .ok_or_else(|| HashReadError::Tile {
                path: tile.path(),
                reason: "not available".to_owned(),
            })
    }
}

/// A [`HashReader`] over the tiles of a tree of a given size. Hashes read from tiles are not
/// authenticated by themselves: check the proof or root you compute against a signed
/// checkpoint.
#[derive(Debug)]
pub struct TileHashReader<'a, S: ?Sized> {
    tree_size: u64,
    source: &'a S,
}

impl<'a, S: TileSource + ?Sized> TileHashReader<'a, S> {
    /// Creates a reader for the tree of `tree_size` leaves.
    pub fn new(tree_size: u64, source: &'a S) -> Self {
        TileHashReader { tree_size, source }
    }
}

impl<S: TileSource + ?Sized> HashReader for TileHashReader<'_, S> {
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, HashReadError> {
        let mut cache: HashMap<TileId, Vec<Hash>> = HashMap::new();
        let mut out = Vec::with_capacity(nodes.len());
        for node in nodes {
            let (tile, start, end) =
                tile_for_node(*node, self.tree_size).map_err(|e| HashReadError::Tile {
                    path: format!("(node level {} index {})", node.level, node.index),
                    reason: e.to_string(),
                })?;
            let hashes = match cache.entry(tile) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => {
                    let data = self.source.read_tile(tile)?;
                    let bad = |reason: String| HashReadError::Tile {
                        path: tile.path(),
                        reason,
                    };
                    if data.len() < tile.data_len() {
                        return Err(bad(format!(
                            "has {} bytes, expected at least {}",
                            data.len(),
                            tile.data_len()
                        )));
                    }
                    entry.insert(parse_tile_hashes(&data).map_err(|e| bad(e.to_string()))?)
                }
            };
            let slice = hashes.get(start..end).ok_or_else(|| HashReadError::Tile {
                path: tile.path(),
                reason: format!("hashes {start}..{end} are missing"),
            })?;
            let hash =
                complete_subtree_root(slice).ok_or(HashReadError::Missing { node: *node })?;
            out.push(hash);
        }
        Ok(out)
    }
}

/// Reads the contents of `tile` (its hashes at Merkle level `8 * level`) from a hash store.
pub fn tile_data(tile: TileId, reader: &impl HashReader) -> Result<Vec<u8>, HashReadError> {
    let invalid = |reason: String| HashReadError::Tile {
        path: tile.path(),
        reason,
    };
    let tile =
        TileId::new(tile.level, tile.index, tile.width).map_err(|e| invalid(e.to_string()))?;
    if tile.level >= 8 {
        return Err(invalid(
            "no 64-bit tree has hashes at this level".to_owned(),
        ));
    }
    let merkle_level = tile.level * TILE_HEIGHT;
    let first = tile.index << 8;
    let nodes: Vec<NodeId> = (0..u64::from(tile.width))
        .map(|i| NodeId::new(merkle_level, first.saturating_add(i)))
        .collect();
    let hashes = reader.read_hashes(&nodes)?;
    if hashes.len() != nodes.len() {
        return Err(HashReadError::WrongCount {
            requested: nodes.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// Result of appending leaves to a tiled tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TileUpdate {
    /// Tree size after the append.
    pub size: u64,
    /// Root hash after the append.
    pub root: Hash,
    /// Every tile that is new or changed, with its full contents, lowest level first.
    pub tiles: Vec<(TileId, Vec<u8>)>,
}

/// Appends `new_leaf_hashes` to a tree of `old_size` leaves whose existing hashes are readable
/// from `existing` (e.g. a [`TileHashReader`] over the stored tiles) and returns the new root and
/// the tiles to write.
pub fn extend_tiles(
    old_size: u64,
    existing: &impl HashReader,
    new_leaf_hashes: &[Hash],
) -> Result<TileUpdate, TileError> {
    let frontier_nodes = crate::merkle::frontier_nodes(old_size);
    let frontier = if frontier_nodes.is_empty() {
        Vec::new()
    } else {
        existing.read_hashes(&frontier_nodes)?
    };
    let mut builder = TreeBuilder::from_frontier(old_size, frontier)?;
    let mut fresh: HashMap<NodeId, Hash> = HashMap::new();
    for leaf in new_leaf_hashes {
        builder.append_with(*leaf, |node, hash| {
            if node.level % TILE_HEIGHT == 0 {
                fresh.insert(node, hash);
            }
        })?;
    }
    let new_size = builder.size();
    let overlay = Overlay {
        fresh: &fresh,
        existing,
    };
    let mut tiles = Vec::new();
    for tile in new_tiles(old_size, new_size)? {
        tiles.push((tile, tile_data(tile, &overlay)?));
    }
    Ok(TileUpdate {
        size: new_size,
        root: builder.root(),
        tiles,
    })
}

/// Builds every tile of the tree with the given leaf hashes.
pub fn build_tiles(leaf_hashes: &[Hash]) -> Result<TileUpdate, TileError> {
    extend_tiles(0, &NoHashes, leaf_hashes)
}

struct NoHashes;

impl HashReader for NoHashes {
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, HashReadError> {
        match nodes.first() {
            None => Ok(Vec::new()),
            Some(node) => Err(HashReadError::Missing { node: *node }),
        }
    }
}

struct Overlay<'a, R> {
    fresh: &'a HashMap<NodeId, Hash>,
    existing: &'a R,
}

impl<R: HashReader> HashReader for Overlay<'_, R> {
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, HashReadError> {
        let missing: Vec<NodeId> = nodes
            .iter()
            .filter(|n| !self.fresh.contains_key(n))
            .copied()
            .collect();
        let old = if missing.is_empty() {
            Vec::new()
        } else {
            self.existing.read_hashes(&missing)?
        };
        if old.len() != missing.len() {
            return Err(HashReadError::WrongCount {
                requested: missing.len(),
                got: old.len(),
            });
        }
        let mut old_iter = old.into_iter();
        nodes
            .iter()
            .map(|n| match self.fresh.get(n) {
                Some(h) => Ok(*h),
                None => old_iter.next().ok_or(HashReadError::Missing { node: *n }),
            })
            .collect()
    }
}
