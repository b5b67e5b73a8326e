// Command sumdbcheck is Candor's independent interoperability checker. It uses Go's
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog packages, not Candor's code, to
// check the signed notes, trees, proofs and tiles that Candor produces, and to produce signed
// checkpoints, entry bundles and tiles for Candor to check.
//
// It needs nothing beyond the standard library and golang.org/x/mod, and builds offline in
// GOPATH mode (see interop/README.md):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off go build -o sumdbcheck .
//
// Every subcommand exits 0 on success, 1 when a check fails and 2 on a usage error, with a
// message on standard error that says what did not match. Run it without arguments for usage.
package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const usageText = `usage: sumdbcheck COMMAND [flags] ARGS

Commands (FILE may be "-" for standard input):

  verify-note VKEY NOTE_FILE
      Opens the signed note with note.NewVerifier(VKEY) and note.Open. Prints JSON:
      {"text", "signatures":[{"name","key_hash"}], "unverified":[...], "checkpoint":
      {"origin","size","root","extensions"}, "sumdb_tree":{"n","hash"}}; "checkpoint" is
      present when the text has checkpoint form, "sumdb_tree" when tlog.ParseTree accepts it.

  check-tree [-inclusion SPEC] [-consistency SPEC] SIZE ROOT_BASE64 BUNDLE_FILE...
      Reads the entries from C2SP entry bundles (in order; exactly SIZE entries), builds the
      tree with tlog.StoredHashes and compares tlog.TreeHash to ROOT_BASE64. Then makes and
      checks proofs with tlog.ProveRecord/CheckRecord and tlog.ProveTree/CheckTree and prints
      them (format below). SPEC is "all" (every leaf, or every old size 1..SIZE, against
      SIZE) or a comma list of I or I:N (leaf I in the tree of size N) and M or M:N
      (consistency from size M to size N); N defaults to SIZE.

  check-proofs PROOF_FILE...
      Checks every proof line with tlog.CheckRecord / tlog.CheckTree; all lines must agree
      on the root of each tree size.

  check-tiles [-entries BUNDLE_FILE]... SIZE ROOT_BASE64 LEVEL INDEX WIDTH TILE_FILE ...
      Hash tiles given by coordinates (height 8, as in C2SP tlog-tiles). Each tile is
      authenticated against (SIZE, ROOT) with tlog.TileHashReader, which asks for exactly
      the tiles and widths Go expects for that tree. With -entries, each tile is also
      compared byte for byte with tlog.ReadTileData over the tree Go builds from the entries.

  sign [-skey FILE] [-name KEYNAME] [-origin ORIGIN] [-ext LINE]... [-gen N] OUT_DIR [ENTRY_FILE...]
      Builds a Go tree over the entries (each ENTRY_FILE is one entry, then N generated
      entries "go entry I\n"), signs the checkpoint "ORIGIN\nSIZE\nROOT\n[EXT\n...]" with
      note.Sign (with ORIGIN "go.sum database tree" the body is tlog.FormatTree's) and writes
      OUT_DIR/checkpoint, OUT_DIR/vkey, OUT_DIR/skey (only for a key made with
      note.GenerateKey), and the entry bundles and hash tiles in C2SP layout
      (OUT_DIR/tile/entries/..., OUT_DIR/tile/L/...; only the widest tile per coordinate).
      -name defaults to the origin, the origin to "go.example/interop".

Proof lines (printed by check-tree, read by check-proofs; hashes in standard base64):

  root SIZE ROOT
  inclusion SIZE ROOT INDEX LEAF_HASH PROOF_HASH...
  consistency OLD_SIZE OLD_ROOT NEW_SIZE NEW_ROOT PROOF_HASH...
`

// tileHeight is the tile height of C2SP tlog-tiles (and of the Go checksum database).
const tileHeight = 8

// sumdbOrigin is the first line of tlog.FormatTree's checkpoint text.
const sumdbOrigin = "go.sum database tree"

// usageError marks a problem with the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...interface{}) error {
	return usageError{fmt.Sprintf(format, args...)}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usageText)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "verify-note":
		err = verifyNote(args)
	case "check-tree":
		err = checkTree(args)
	case "check-proofs":
		err = checkProofs(args)
	case "check-tiles":
		err = checkTiles(args)
	case "sign":
		err = sign(args)
	case "help", "-h", "-help", "--help":
		fmt.Print(usageText)
		return
	default:
		err = usagef("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sumdbcheck %s: %v\n", cmd, err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprint(os.Stderr, "\n"+usageText)
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// newFlags returns a flag set whose errors are returned, not printed with the default usage.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// listFlag collects a repeated string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

var stdinUsed bool

// readInput reads a file, or standard input for "-" (once).
func readInput(path string) ([]byte, error) {
	if path == "-" {
		if stdinUsed {
			return nil, usagef("standard input (\"-\") can be read only once")
		}
		stdinUsed = true
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

func parseSize(text, what string) (int64, error) {
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != text {
		return 0, usagef("%s %q is not a canonical non-negative decimal", what, text)
	}
	return n, nil
}

func parseHash(text, what string) (tlog.Hash, error) {
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(raw) != tlog.HashSize {
		return tlog.Hash{}, fmt.Errorf("%s %q is not a base64 SHA-256 hash", what, text)
	}
	var h tlog.Hash
	copy(h[:], raw)
	return h, nil
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

// ---- verify-note ----

type sigJSON struct {
	Name    string `json:"name"`
	KeyHash string `json:"key_hash"`
}

type checkpointJSON struct {
	Origin     string   `json:"origin"`
	Size       int64    `json:"size"`
	Root       string   `json:"root"`
	Extensions []string `json:"extensions"`
}

type treeJSON struct {
	N    int64  `json:"n"`
	Hash string `json:"hash"`
}

type noteJSON struct {
	Text       string          `json:"text"`
	Signatures []sigJSON       `json:"signatures"`
	Unverified []sigJSON       `json:"unverified"`
	Checkpoint *checkpointJSON `json:"checkpoint,omitempty"`
	SumdbTree  *treeJSON       `json:"sumdb_tree,omitempty"`
}

func verifyNote(args []string) error {
	if len(args) != 2 {
		return usagef("want VKEY NOTE_FILE, got %d arguments", len(args))
	}
	verifier, err := note.NewVerifier(args[0])
	if err != nil {
		return fmt.Errorf("note.NewVerifier rejects the verifier key %q: %v", args[0], err)
	}
	msg, err := readInput(args[1])
	if err != nil {
		return err
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return fmt.Errorf("note.Open with key %s+%08x rejects the note: %v\n--- note ---\n%s",
			verifier.Name(), verifier.KeyHash(), err, msg)
	}
	out := noteJSON{Text: n.Text, Signatures: []sigJSON{}, Unverified: []sigJSON{}}
	for _, s := range n.Sigs {
		out.Signatures = append(out.Signatures, sigJSON{s.Name, fmt.Sprintf("%08x", s.Hash)})
	}
	for _, s := range n.UnverifiedSigs {
		out.Unverified = append(out.Unverified, sigJSON{s.Name, fmt.Sprintf("%08x", s.Hash)})
	}
	if cp, err := parseCheckpoint(n.Text); err == nil {
		out.Checkpoint = cp
	}
	if tree, err := tlog.ParseTree([]byte(n.Text)); err == nil {
		out.SumdbTree = &treeJSON{tree.N, b64(tree.Hash)}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// parseCheckpoint reads the C2SP tlog-checkpoint body: origin, decimal size, base64 root, then
// optional extension lines. (tlog.ParseTree only accepts the sumdb origin.)
func parseCheckpoint(text string) (*checkpointJSON, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("checkpoint text does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 || lines[0] == "" {
		return nil, errors.New("checkpoint needs origin, size and root lines")
	}
	size, err := parseSize(lines[1], "checkpoint size")
	if err != nil {
		return nil, err
	}
	root, err := parseHash(lines[2], "checkpoint root")
	if err != nil {
		return nil, err
	}
	return &checkpointJSON{lines[0], size, b64(root), append([]string{}, lines[3:]...)}, nil
}

// ---- trees from entries ----

// parseBundle splits a C2SP tlog-tiles entry bundle: 1 to 256 entries, each a big-endian
// uint16 length followed by that many bytes.
func parseBundle(data []byte, name string) ([][]byte, error) {
	var entries [][]byte
	for off := 0; off < len(data); {
		if len(data)-off < 2 {
			return nil, fmt.Errorf("bundle %s: 1 stray byte at offset %d", name, off)
		}
		n := int(binary.BigEndian.Uint16(data[off:]))
		off += 2
		if len(data)-off < n {
			return nil, fmt.Errorf("bundle %s: entry %d at offset %d claims %d bytes, %d remain",
				name, len(entries), off-2, n, len(data)-off)
		}
		entries = append(entries, data[off:off+n])
		off += n
	}
	if len(entries) == 0 || len(entries) > 1<<tileHeight {
		return nil, fmt.Errorf("bundle %s holds %d entries, want 1 to 256", name, len(entries))
	}
	return entries, nil
}

func encodeBundle(entries [][]byte) []byte {
	var buf bytes.Buffer
	for _, e := range entries {
		var l [2]byte
		binary.BigEndian.PutUint16(l[:], uint16(len(e)))
		buf.Write(l[:])
		buf.Write(e)
	}
	return buf.Bytes()
}

func readBundles(files []string) ([][]byte, error) {
	var entries [][]byte
	for i, f := range files {
		data, err := readInput(f)
		if err != nil {
			return nil, err
		}
		es, err := parseBundle(data, f)
		if err != nil {
			return nil, err
		}
		// Every bundle but the last is full: bundles are the entries of consecutive tiles.
		if i < len(files)-1 && len(es) != 1<<tileHeight {
			return nil, fmt.Errorf("bundle %s holds %d entries; only the last bundle may be partial", f, len(es))
		}
		entries = append(entries, es...)
	}
	return entries, nil
}

// memHashes is a tlog.HashReader over every stored hash of a tree, in storage order.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("stored hash %d is beyond the %d stored hashes", x, len(m))
		}
		out[i] = m[x]
	}
	return out, nil
}

// buildTree stores the hashes of a tree over entries the way the Go checksum database does.
func buildTree(entries [][]byte) (memHashes, error) {
	var stored memHashes
	for i, e := range entries {
		if want := tlog.StoredHashIndex(0, int64(i)); want != int64(len(stored)) {
			return nil, fmt.Errorf("bad stored hash count %d before record %d, want %d", len(stored), i, want)
		}
		hashes, err := tlog.StoredHashes(int64(i), e, stored)
		if err != nil {
			return nil, err
		}
		stored = append(stored, hashes...)
	}
	return stored, nil
}

// ---- check-tree ----

type pair struct{ a, b int64 }

// parseSpec parses "all" or a comma list of "A" / "A:B" (B defaults to size).
func parseSpec(spec string, size int64, all func() []pair) ([]pair, error) {
	if spec == "" {
		return nil, nil
	}
	if spec == "all" {
		return all(), nil
	}
	var out []pair
	for _, item := range strings.Split(spec, ",") {
		aText, bText := item, ""
		if i := strings.Index(item, ":"); i >= 0 {
			aText, bText = item[:i], item[i+1:]
		}
		a, err := parseSize(aText, "proof spec number")
		if err != nil {
			return nil, err
		}
		b := size
		if bText != "" {
			if b, err = parseSize(bText, "proof spec size"); err != nil {
				return nil, err
			}
		}
		if b > size {
			return nil, usagef("proof spec %q names size %d, larger than the tree (%d)", item, b, size)
		}
		out = append(out, pair{a, b})
	}
	return out, nil
}

func checkTree(args []string) error {
	fs := newFlags("check-tree")
	inclusion := fs.String("inclusion", "", "leaves to prove: all, or I[:N],...")
	consistency := fs.String("consistency", "", "old sizes to prove: all, or M[:N],...")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 3 {
		return usagef("want SIZE ROOT_BASE64 BUNDLE_FILE..., got %d arguments", fs.NArg())
	}
	size, err := parseSize(fs.Arg(0), "tree size")
	if err != nil {
		return err
	}
	root, err := parseHash(fs.Arg(1), "root")
	if err != nil {
		return usagef("%v", err)
	}
	entries, err := readBundles(fs.Args()[2:])
	if err != nil {
		return err
	}
	if int64(len(entries)) != size {
		return fmt.Errorf("the bundles hold %d entries, the tree size is %d", len(entries), size)
	}
	stored, err := buildTree(entries)
	if err != nil {
		return err
	}
	got, err := tlog.TreeHash(size, stored)
	if err != nil {
		return err
	}
	if got != root {
		return fmt.Errorf("tree hash mismatch: tlog.TreeHash over the %d entries is %s, the given root is %s",
			size, b64(got), b64(root))
	}
	fmt.Printf("root %d %s\n", size, b64(got))

	roots := map[int64]tlog.Hash{size: got}
	rootAt := func(n int64) (tlog.Hash, error) {
		if h, ok := roots[n]; ok {
			return h, nil
		}
		h, err := tlog.TreeHash(n, stored)
		if err != nil {
			return tlog.Hash{}, err
		}
		roots[n] = h
		return h, nil
	}

	leaves, err := parseSpec(*inclusion, size, func() []pair {
		var ps []pair
		for i := int64(0); i < size; i++ {
			ps = append(ps, pair{i, size})
		}
		return ps
	})
	if err != nil {
		return err
	}
	for _, p := range leaves {
		index, n := p.a, p.b
		if index >= n {
			return usagef("leaf %d is not in the tree of size %d", index, n)
		}
		th, err := rootAt(n)
		if err != nil {
			return err
		}
		proof, err := tlog.ProveRecord(n, index, stored)
		if err != nil {
			return fmt.Errorf("tlog.ProveRecord(%d, %d): %v", n, index, err)
		}
		leaf := tlog.RecordHash(entries[index])
		if err := tlog.CheckRecord(proof, n, th, index, leaf); err != nil {
			return fmt.Errorf("tlog.CheckRecord on Go's own proof of leaf %d in size %d: %v", index, n, err)
		}
		fmt.Printf("inclusion %d %s %d %s%s\n", n, b64(th), index, b64(leaf), hashList(proof))
	}

	olds, err := parseSpec(*consistency, size, func() []pair {
		var ps []pair
		for m := int64(1); m <= size; m++ {
			ps = append(ps, pair{m, size})
		}
		return ps
	})
	if err != nil {
		return err
	}
	for _, p := range olds {
		m, n := p.a, p.b
		if m < 1 || m > n {
			return usagef("no consistency proof from size %d to size %d (tlog needs 1 <= old <= new)", m, n)
		}
		oldRoot, err := rootAt(m)
		if err != nil {
			return err
		}
		newRoot, err := rootAt(n)
		if err != nil {
			return err
		}
		proof, err := tlog.ProveTree(n, m, stored)
		if err != nil {
			return fmt.Errorf("tlog.ProveTree(%d, %d): %v", n, m, err)
		}
		if err := tlog.CheckTree(proof, n, newRoot, m, oldRoot); err != nil {
			return fmt.Errorf("tlog.CheckTree on Go's own proof from %d to %d: %v", m, n, err)
		}
		fmt.Printf("consistency %d %s %d %s%s\n", m, b64(oldRoot), n, b64(newRoot), hashList(proof))
	}
	fmt.Fprintf(os.Stderr, "sumdbcheck check-tree: root of %d entries matches; %d inclusion and %d consistency proofs made and checked\n",
		size, len(leaves), len(olds))
	return nil
}

func hashList(hs []tlog.Hash) string {
	var b strings.Builder
	for _, h := range hs {
		b.WriteByte(' ')
		b.WriteString(b64(h))
	}
	return b.String()
}

// ---- check-proofs ----

func checkProofs(args []string) error {
	if len(args) == 0 {
		return usagef("want PROOF_FILE...")
	}
	var nInclusion, nConsistency int
	roots := map[int64]tlog.Hash{} // every line must agree on the root of each size
	for _, file := range args {
		data, err := readInput(file)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		for lineNo := 1; sc.Scan(); lineNo++ {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			kind, err := checkProofLine(line, roots)
			if err != nil {
				return fmt.Errorf("%s line %d: %v\n  line: %s", file, lineNo, err, line)
			}
			switch kind {
			case "inclusion":
				nInclusion++
			case "consistency":
				nConsistency++
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("%s: %v", file, err)
		}
	}
	fmt.Printf("checked %d inclusion and %d consistency proofs\n", nInclusion, nConsistency)
	return nil
}

func checkProofLine(line string, roots map[int64]tlog.Hash) (string, error) {
	f := strings.Fields(line)
	sameRoot := func(size int64, root tlog.Hash) error {
		if seen, ok := roots[size]; ok && seen != root {
			return fmt.Errorf("root %s for size %d contradicts root %s on an earlier line", b64(root), size, b64(seen))
		}
		roots[size] = root
		return nil
	}
	parseHashes := func(texts []string) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(texts))
		for i, t := range texts {
			h, err := parseHash(t, fmt.Sprintf("proof hash %d", i))
			if err != nil {
				return nil, err
			}
			out[i] = h
		}
		return out, nil
	}
	switch {
	case len(f) == 3 && f[0] == "root":
		size, err := parseSize(f[1], "tree size")
		if err != nil {
			return "", err
		}
		root, err := parseHash(f[2], "root")
		if err != nil {
			return "", err
		}
		return "root", sameRoot(size, root)
	case len(f) >= 5 && f[0] == "inclusion":
		size, err := parseSize(f[1], "tree size")
		if err != nil {
			return "", err
		}
		index, err := parseSize(f[3], "leaf index")
		if err != nil {
			return "", err
		}
		hs, err := parseHashes(append([]string{f[2], f[4]}, f[5:]...))
		if err != nil {
			return "", err
		}
		if err := sameRoot(size, hs[0]); err != nil {
			return "", err
		}
		if err := tlog.CheckRecord(tlog.RecordProof(hs[2:]), size, hs[0], index, hs[1]); err != nil {
			return "", fmt.Errorf("tlog.CheckRecord rejects the inclusion proof of leaf %d in size %d (%d hashes): %v",
				index, size, len(hs)-2, err)
		}
		return "inclusion", nil
	case len(f) >= 5 && f[0] == "consistency":
		oldSize, err := parseSize(f[1], "old size")
		if err != nil {
			return "", err
		}
		newSize, err := parseSize(f[3], "new size")
		if err != nil {
			return "", err
		}
		hs, err := parseHashes(append([]string{f[2], f[4]}, f[5:]...))
		if err != nil {
			return "", err
		}
		if err := sameRoot(oldSize, hs[0]); err != nil {
			return "", err
		}
		if err := sameRoot(newSize, hs[1]); err != nil {
			return "", err
		}
		if err := tlog.CheckTree(tlog.TreeProof(hs[2:]), newSize, hs[1], oldSize, hs[0]); err != nil {
			return "", fmt.Errorf("tlog.CheckTree rejects the consistency proof from %d to %d (%d hashes): %v",
				oldSize, newSize, len(hs)-2, err)
		}
		return "consistency", nil
	}
	return "", errors.New(`not "root SIZE ROOT", "inclusion SIZE ROOT INDEX LEAF P..." or "consistency OLD OLD_ROOT NEW NEW_ROOT P..."`)
}

// ---- check-tiles ----

// c2spPath converts a height-8 tlog.Tile to its C2SP tlog-tiles path: the sumdb path without
// the height element, with "entries" for sumdb's "data" level.
func c2spPath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", tileHeight))
	if strings.HasPrefix(p, "data/") {
		return "tile/entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

// givenTiles is a tlog.TileReader over the tiles named on the command line.
type givenTiles struct {
	tiles     map[tlog.Tile][]byte
	requested map[tlog.Tile]bool
}

func (g *givenTiles) Height() int { return tileHeight }

func (g *givenTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, ok := g.tiles[t]
		if !ok {
			return nil, fmt.Errorf("tlog.TileHashReader needs tile %s (level %d, index %d, width %d), which was not given",
				c2spPath(t), t.L, t.N, t.W)
		}
		g.requested[t] = true
		out[i] = data
	}
	return out, nil
}

func (g *givenTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func checkTiles(args []string) error {
	fs := newFlags("check-tiles")
	var bundles listFlag
	fs.Var(&bundles, "entries", "entry bundle file (repeat, in order)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) < 6 || (len(rest)-2)%4 != 0 {
		return usagef("want SIZE ROOT_BASE64 then groups of LEVEL INDEX WIDTH TILE_FILE, got %d arguments", len(rest))
	}
	size, err := parseSize(rest[0], "tree size")
	if err != nil {
		return err
	}
	root, err := parseHash(rest[1], "root")
	if err != nil {
		return usagef("%v", err)
	}
	given := &givenTiles{tiles: map[tlog.Tile][]byte{}, requested: map[tlog.Tile]bool{}}
	var order []tlog.Tile
	for i := 2; i < len(rest); i += 4 {
		level, err1 := strconv.Atoi(rest[i])
		index, err2 := parseSize(rest[i+1], "tile index")
		width, err3 := strconv.Atoi(rest[i+2])
		if err1 != nil || err2 != nil || err3 != nil || level < 0 || level > 63 || width < 1 || width > 1<<tileHeight {
			return usagef("bad tile coordinates %q %q %q", rest[i], rest[i+1], rest[i+2])
		}
		t := tlog.Tile{H: tileHeight, L: level, N: index, W: width}
		data, err := readInput(rest[i+3])
		if err != nil {
			return err
		}
		if len(data) != width*tlog.HashSize {
			return fmt.Errorf("tile %s (%s) has %d bytes, a tile of width %d has %d",
				c2spPath(t), rest[i+3], len(data), width, width*tlog.HashSize)
		}
		if _, dup := given.tiles[t]; dup {
			return usagef("tile %s given twice", c2spPath(t))
		}
		given.tiles[t] = data
		order = append(order, t)
	}

	// 1. Byte-for-byte comparison with the tiles Go computes from the entries.
	if len(bundles) > 0 {
		entries, err := readBundles(bundles)
		if err != nil {
			return err
		}
		if int64(len(entries)) != size {
			return fmt.Errorf("the bundles hold %d entries, the tree size is %d", len(entries), size)
		}
		stored, err := buildTree(entries)
		if err != nil {
			return err
		}
		th, err := tlog.TreeHash(size, stored)
		if err != nil {
			return err
		}
		if th != root {
			return fmt.Errorf("tree hash mismatch: tlog.TreeHash over the %d entries is %s, the given root is %s",
				size, b64(th), b64(root))
		}
		for _, t := range order {
			want, err := tlog.ReadTileData(t, stored)
			if err != nil {
				return fmt.Errorf("tlog.ReadTileData(%s) over a tree of %d entries: %v", c2spPath(t), size, err)
			}
			if err := sameTile(t, given.tiles[t], want); err != nil {
				return err
			}
		}
	}

	// 2. Authentication of the given tiles alone against (SIZE, ROOT), the way a Go client
	// reads a tiled log: tlog.TileHashReader checks every tile it loads against the tree hash.
	tree := tlog.Tree{N: size, Hash: root}
	reader := tlog.TileHashReader(tree, given)
	th, err := tlog.TreeHash(size, reader)
	if err != nil {
		return fmt.Errorf("tlog.TreeHash(%d) over the given tiles: %v", size, err)
	}
	if th != root {
		return fmt.Errorf("tlog.TreeHash over the given tiles is %s, want %s", b64(th), b64(root))
	}
	for _, t := range order {
		var indexes []int64
		for j := 0; j < t.W; j++ {
			indexes = append(indexes, tlog.StoredHashIndex(t.L*tileHeight, t.N<<tileHeight+int64(j)))
		}
		hashes, err := reader.ReadHashes(indexes)
		if err != nil {
			return fmt.Errorf("reading the hashes of tile %s through tlog.TileHashReader for tree size %d: %v",
				c2spPath(t), size, err)
		}
		var got []byte
		for _, h := range hashes {
			got = append(got, h[:]...)
		}
		if err := sameTile(t, given.tiles[t], got); err != nil {
			return fmt.Errorf("after authentication: %v", err)
		}
		if !given.requested[t] {
			return fmt.Errorf("tile %s was not needed by tlog.TileHashReader for tree size %d (wrong width?)",
				c2spPath(t), size)
		}
	}
	fmt.Printf("checked %d tiles against tree size %d root %s\n", len(order), size, b64(root))
	return nil
}

func sameTile(t tlog.Tile, got, want []byte) error {
	if bytes.Equal(got, want) {
		return nil
	}
	if len(got) != len(want) {
		return fmt.Errorf("tile %s: %d bytes given, Go computes %d", c2spPath(t), len(got), len(want))
	}
	for j := 0; j < len(got); j += tlog.HashSize {
		if !bytes.Equal(got[j:j+tlog.HashSize], want[j:j+tlog.HashSize]) {
			return fmt.Errorf("tile %s: hash %d differs: given %s, Go computes %s", c2spPath(t), j/tlog.HashSize,
				base64.StdEncoding.EncodeToString(got[j:j+tlog.HashSize]),
				base64.StdEncoding.EncodeToString(want[j:j+tlog.HashSize]))
		}
	}
	return nil
}

// ---- sign ----

func sign(args []string) error {
	fs := newFlags("sign")
	skeyFile := fs.String("skey", "", "file with a PRIVATE+KEY+... signer key (default: note.GenerateKey)")
	name := fs.String("name", "", "key name for a generated key (default: the origin)")
	origin := fs.String("origin", "go.example/interop", "checkpoint origin")
	gen := fs.Int("gen", 0, "number of generated entries \"go entry I\\n\" to append")
	var exts listFlag
	fs.Var(&exts, "ext", "checkpoint extension line (repeat)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return usagef("want OUT_DIR [ENTRY_FILE...]")
	}
	outDir := fs.Arg(0)

	var signer note.Signer
	var skey, vkey string
	if *skeyFile != "" {
		data, err := readInput(*skeyFile)
		if err != nil {
			return err
		}
		skey = strings.TrimSpace(string(data))
		if signer, err = note.NewSigner(skey); err != nil {
			return fmt.Errorf("note.NewSigner rejects the key in %s: %v", *skeyFile, err)
		}
		if vkey, err = vkeyFromSkey(skey); err != nil {
			return err
		}
		skey = "" // not written back
	} else {
		keyName := *name
		if keyName == "" {
			keyName = *origin
		}
		var err error
		if skey, vkey, err = note.GenerateKey(rand.Reader, keyName); err != nil {
			return fmt.Errorf("note.GenerateKey(%q): %v", keyName, err)
		}
		if signer, err = note.NewSigner(skey); err != nil {
			return fmt.Errorf("note.NewSigner rejects the key note.GenerateKey made: %v", err)
		}
	}
	if _, err := note.NewVerifier(vkey); err != nil {
		return fmt.Errorf("note.NewVerifier rejects %q: %v", vkey, err)
	}

	var entries [][]byte
	for _, f := range fs.Args()[1:] {
		data, err := readInput(f)
		if err != nil {
			return err
		}
		entries = append(entries, data)
	}
	for i := 0; i < *gen; i++ {
		entries = append(entries, []byte(fmt.Sprintf("go entry %d\n", i)))
	}
	if len(entries) == 0 {
		// tlog.TreeHash(0) is all zeros where RFC 6962 says SHA-256 of the empty string.
		return usagef("no entries: give ENTRY_FILEs or -gen N (the empty tree is not signed)")
	}
	for i, e := range entries {
		if len(e) > 0xffff {
			return fmt.Errorf("entry %d has %d bytes; an entry bundle holds at most 65535", i, len(e))
		}
	}
	stored, err := buildTree(entries)
	if err != nil {
		return err
	}
	size := int64(len(entries))
	root, err := tlog.TreeHash(size, stored)
	if err != nil {
		return err
	}

	var body string
	if *origin == sumdbOrigin {
		if len(exts) > 0 {
			return usagef("tlog.FormatTree has no extension lines")
		}
		body = string(tlog.FormatTree(tlog.Tree{N: size, Hash: root}))
	} else {
		if *origin == "" || strings.ContainsAny(*origin, "\n") {
			return usagef("origin must be one non-empty line")
		}
		body = fmt.Sprintf("%s\n%d\n%s\n", *origin, size, b64(root))
		for _, e := range exts {
			if e == "" || strings.Contains(e, "\n") {
				return usagef("extension lines must be non-empty single lines")
			}
			body += e + "\n"
		}
	}
	msg, err := note.Sign(&note.Note{Text: body}, signer)
	if err != nil {
		return fmt.Errorf("note.Sign: %v", err)
	}

	files := map[string][]byte{
		"checkpoint": msg,
		"vkey":       []byte(vkey + "\n"),
	}
	// The widest tile per coordinate: the tiles of the tree at this size.
	widest := map[tlog.Tile]tlog.Tile{}
	for _, t := range tlog.NewTiles(tileHeight, 0, size) {
		key := tlog.Tile{H: t.H, L: t.L, N: t.N}
		if w, ok := widest[key]; !ok || t.W > w.W {
			widest[key] = t
		}
	}
	for _, t := range widest {
		data, err := tlog.ReadTileData(t, stored)
		if err != nil {
			return fmt.Errorf("tlog.ReadTileData(%s): %v", c2spPath(t), err)
		}
		files[c2spPath(t)] = data
		if t.L == 0 {
			first := t.N << tileHeight
			bundle := tlog.Tile{H: tileHeight, L: -1, N: t.N, W: t.W}
			files[c2spPath(bundle)] = encodeBundle(entries[first : first+int64(t.W)])
		}
	}
	for rel, data := range files {
		path := filepath.Join(outDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	if skey != "" {
		if err := os.WriteFile(filepath.Join(outDir, "skey"), []byte(skey+"\n"), 0o600); err != nil {
			return err
		}
	}
	fmt.Printf("signed checkpoint of size %d, root %s, with %s; wrote %d files to %s\n",
		size, b64(root), vkey, len(files), outDir)
	return nil
}

// vkeyFromSkey derives the verifier key of a "PRIVATE+KEY+name+hash+base64(0x01||seed)" key.
func vkeyFromSkey(skey string) (string, error) {
	f := strings.SplitN(skey, "+", 5) // the base64 key may itself contain "+"
	if len(f) != 5 || f[0] != "PRIVATE" || f[1] != "KEY" {
		return "", errors.New("signer key does not have the form PRIVATE+KEY+NAME+HASH+KEY")
	}
	raw, err := base64.StdEncoding.DecodeString(f[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("signer key is not an Ed25519 (type 1) seed")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(f[2], pub)
}
