package gitrepo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// The commit of generated files is built as trees straight from the working
// tree, not through the index: only the given paths change, whatever else is
// staged, and the same function replays them onto a new remote head.

// applyWorktree returns the tree base with every path in paths replaced by
// the working tree's content under root (absent there = deleted).
func applyWorktree(st storer.EncodedObjectStorer, base plumbing.Hash, root string, paths []string) (plumbing.Hash, error) {
	tree := base
	for _, p := range paths {
		baseEntry, err := entryAt(st, base, p)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		ign, err := ignoresFor(root, p)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		e, err := fsEntry(st, root, p, baseEntry, ign)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if p == "." {
			if e == nil {
				tree, err = writeTree(st, nil)
			} else {
				tree = e.Hash
			}
		} else {
			tree, err = setPath(st, tree, strings.Split(p, "/"), e)
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
	}
	return tree, nil
}

// entryAt returns the entry at p in tree (nil when absent); "." is the tree.
func entryAt(st storer.EncodedObjectStorer, tree plumbing.Hash, p string) (*object.TreeEntry, error) {
	if tree.IsZero() {
		return nil, nil
	}
	if p == "." {
		return &object.TreeEntry{Mode: filemode.Dir, Hash: tree}, nil
	}
	t, err := object.GetTree(st, tree)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", tree, err)
	}
	e, err := t.FindEntry(p)
	if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tree %s: %s: %w", tree, p, err)
	}
	return e, nil
}

// setPath returns tree with the entry at parts set to e (removed when nil),
// pruning directories left empty. A zero result means an empty tree.
func setPath(st storer.EncodedObjectStorer, tree plumbing.Hash, parts []string, e *object.TreeEntry) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !tree.IsZero() {
		t, err := object.GetTree(st, tree)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read tree %s: %w", tree, err)
		}
		entries = append(entries, t.Entries...)
	}
	name := parts[0]
	idx := -1
	for j, en := range entries {
		if en.Name == name {
			idx = j
			break
		}
	}
	var newEntry *object.TreeEntry
	if len(parts) == 1 {
		if e != nil {
			newEntry = &object.TreeEntry{Name: name, Mode: e.Mode, Hash: e.Hash}
		}
	} else {
		child := plumbing.ZeroHash
		if idx >= 0 && entries[idx].Mode == filemode.Dir {
			child = entries[idx].Hash
		}
		h, err := setPath(st, child, parts[1:], e)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if !h.IsZero() {
			newEntry = &object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
		}
	}
	switch {
	case idx >= 0 && newEntry != nil:
		entries[idx] = *newEntry
	case idx >= 0:
		entries = append(entries[:idx], entries[idx+1:]...)
	case newEntry != nil:
		entries = append(entries, *newEntry)
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, nil
	}
	return writeTree(st, entries)
}

// writeTree stores a tree in git's entry order (directories sort as "name/").
func writeTree(st storer.EncodedObjectStorer, entries []object.TreeEntry) (plumbing.Hash, error) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	t := &object.Tree{Entries: entries}
	obj := st.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode tree: %w", err)
	}
	return st.SetEncodedObject(obj)
}

func writeBlob(st storer.EncodedObjectStorer, data []byte) (plumbing.Hash, error) {
	h := plumbing.ComputeHash(plumbing.BlobObject, data)
	if st.HasEncodedObject(h) == nil {
		return h, nil
	}
	obj := st.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return h, err
	}
	if _, err := w.Write(data); err != nil {
		return h, err
	}
	if err := w.Close(); err != nil {
		return h, err
	}
	return st.SetEncodedObject(obj)
}

// fsEntry builds the tree entry for the working-tree path rel (nil when it
// is absent, or a directory holding nothing that git would add). base is
// the entry at rel in the commit being amended: tracked files are added
// even when ignored, as `git add` does.
func fsEntry(st storer.EncodedObjectStorer, root, rel string, base *object.TreeEntry, ign []gitignore.Pattern) (*object.TreeEntry, error) {
	full := filepath.Join(root, filepath.FromSlash(rel))
	fi, err := os.Lstat(full)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	parts := strings.Split(rel, "/")
	if rel != "." && base == nil && gitignore.NewMatcher(ign).Match(parts, fi.IsDir()) {
		return nil, nil
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(full)
		if err != nil {
			return nil, err
		}
		h, err := writeBlob(st, []byte(filepath.ToSlash(target)))
		return &object.TreeEntry{Mode: filemode.Symlink, Hash: h}, err
	case fi.IsDir():
		return dirEntry(st, root, rel, full, base, ign)
	case fi.Mode().IsRegular():
		data, err := os.ReadFile(full)
		if err != nil {
			return nil, err
		}
		h, err := writeBlob(st, data)
		mode := filemode.Regular
		if fi.Mode()&0o111 != 0 {
			mode = filemode.Executable
		}
		return &object.TreeEntry{Mode: mode, Hash: h}, err
	}
	return nil, nil // sockets, devices: git skips them too
}

func dirEntry(st storer.EncodedObjectStorer, root, rel, full string, base *object.TreeEntry, ign []gitignore.Pattern) (*object.TreeEntry, error) {
	var baseTree *object.Tree
	if base != nil && base.Mode == filemode.Dir {
		t, err := object.GetTree(st, base.Hash)
		if err != nil {
			return nil, err
		}
		baseTree = t
	}
	if rel != "." {
		more, err := readIgnoreFile(filepath.Join(full, ".gitignore"), strings.Split(rel, "/"))
		if err != nil {
			return nil, err
		}
		ign = append(append([]gitignore.Pattern(nil), ign...), more...)
	}
	list, err := os.ReadDir(full)
	if err != nil {
		return nil, err
	}
	var entries []object.TreeEntry
	for _, d := range list {
		if d.Name() == ".git" {
			continue
		}
		var childBase *object.TreeEntry
		if baseTree != nil {
			if e, err := baseTree.FindEntry(d.Name()); err == nil {
				childBase = e
			}
		}
		childRel := path.Join(rel, d.Name())
		if rel == "." {
			childRel = d.Name()
		}
		e, err := fsEntry(st, root, childRel, childBase, ign)
		if err != nil {
			return nil, err
		}
		if e != nil {
			e.Name = d.Name()
			entries = append(entries, *e)
		}
	}
	if len(entries) == 0 {
		return nil, nil
	}
	h, err := writeTree(st, entries)
	return &object.TreeEntry{Mode: filemode.Dir, Hash: h}, err
}

// ignoresFor reads .git/info/exclude and the .gitignore files of root and
// of every directory above rel (those inside rel are read while walking).
func ignoresFor(root, rel string) ([]gitignore.Pattern, error) {
	ps, err := readIgnoreFile(filepath.Join(root, ".git", "info", "exclude"), nil)
	if err != nil {
		return nil, err
	}
	more, err := readIgnoreFile(filepath.Join(root, ".gitignore"), nil)
	if err != nil {
		return nil, err
	}
	ps = append(ps, more...)
	if rel == "." {
		return ps, nil
	}
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		more, err := readIgnoreFile(filepath.Join(root, filepath.Join(parts[:i]...), ".gitignore"), parts[:i])
		if err != nil {
			return nil, err
		}
		ps = append(ps, more...)
	}
	return ps, nil
}

func readIgnoreFile(file string, domain []string) ([]gitignore.Pattern, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return nil, nil
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) { // e.g. not a directory
			return nil, nil
		}
		return nil, err
	}
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps, nil
}
