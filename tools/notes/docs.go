package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// A doc is one file of the notes: README.md, whose first screen is the
// lab's session, NOTES.md, the guide to the chapters, or a chapter of
// docs/. Each holds its own transcripts, listings and
// figures; a scenario's transcript is in one of them, and a listing a
// scenario runs may be in any.
type doc struct {
	name   string   // its path from the repository's root, with slashes: links in it are relative to its directory
	path   string   // where it is read and written
	raw    string   // as read
	lines  []string // raw, as lines
	blocks []block
}

// docFile names a file of the notes: name from the root, and where it is
// (path; "" for root/name).
type docFile struct{ name, path string }

// allDocs are the notes: README.md, NOTES.md and docs/*.md, in that
// order.
func allDocs(root string) ([]docFile, error) {
	files := []docFile{{name: "README.md"}, {name: "NOTES.md"}}
	chapters, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		return nil, err
	}
	sort.Strings(chapters)
	for _, c := range chapters {
		files = append(files, docFile{name: "docs/" + filepath.Base(c)})
	}
	return files, nil
}

// readDocs reads and parses files.
func readDocs(root string, files []docFile) ([]*doc, error) {
	var docs []*doc
	for _, f := range files {
		p := f.path
		if p == "" {
			p = filepath.Join(root, filepath.FromSlash(f.name))
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		d := &doc{name: f.name, path: p, raw: string(raw)}
		d.lines = strings.Split(strings.TrimSuffix(d.raw, "\n"), "\n")
		if d.blocks, err = parse(d.lines); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		docs = append(docs, d)
	}
	return docs, nil
}

// dir is the doc's directory from the root ("." for README.md and NOTES.md).
func (d *doc) dir() string { return path.Dir(d.name) }

// listings are the listings of docs by name; a later doc's listing of a
// name wins.
func listings(docs []*doc) map[string]string {
	l := map[string]string{}
	for _, d := range docs {
		for _, b := range d.blocks {
			if b.kind == "listing" {
				l[b.name] = strings.Join(b.body, "\n") + "\n"
			}
		}
	}
	return l
}
