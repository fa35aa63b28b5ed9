package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// HEIF (ISO/IEC 23008-12) keeps the picture's size and transforms as item
// properties in the meta box, ahead of the coded data. Reading them here
// gives Probe the displayed size without the WebAssembly decoder, and so
// without its start-up cost and without decoding a single pixel.

// maxMetaSize bounds the meta box read into memory. Phone files have meta
// boxes of a few KB (a 48-tile grid is under 10 KB).
const maxMetaSize = 4 << 20

// maxTopBoxes bounds how many top-level boxes are skipped looking for meta.
const maxTopBoxes = 64

// errHEIF is the base of this file's complaints; callers mark it corrupt.
var errHEIF = errors.New("heif")

// heifSize returns the displayed width and height of the primary item of
// the HEIF file r (of size bytes): its ispe size, cropped by clap and turned
// by irot in the order the properties are associated.
func heifSize(r io.ReaderAt, size int64) (w, h int, err error) {
	meta, err := readMetaBox(r, size)
	if err != nil {
		return 0, 0, err
	}
	if len(meta) < 4 {
		return 0, 0, fmt.Errorf("%w: meta box too short", errHEIF)
	}
	children, err := parseBoxes(meta[4:]) // after version and flags
	if err != nil {
		return 0, 0, fmt.Errorf("%w: meta: %w", errHEIF, err)
	}

	var primary uint32
	var havePrimary bool
	var props [][]byte     // ipco children, whole boxes, in order
	var propTypes []string // their types
	assoc := map[uint32][]int{}
	for _, c := range children {
		switch c.typ {
		case "pitm":
			if len(c.body) < 6 {
				return 0, 0, fmt.Errorf("%w: pitm too short", errHEIF)
			}
			if c.body[0] == 0 {
				primary = uint32(binary.BigEndian.Uint16(c.body[4:]))
			} else if len(c.body) >= 8 {
				primary = binary.BigEndian.Uint32(c.body[4:])
			}
			havePrimary = true
		case "iprp":
			boxes, err := parseBoxes(c.body)
			if err != nil {
				return 0, 0, fmt.Errorf("%w: iprp: %w", errHEIF, err)
			}
			for _, b := range boxes {
				switch b.typ {
				case "ipco":
					list, err := parseBoxes(b.body)
					if err != nil {
						return 0, 0, fmt.Errorf("%w: ipco: %w", errHEIF, err)
					}
					for _, p := range list {
						props = append(props, p.body)
						propTypes = append(propTypes, p.typ)
					}
				case "ipma":
					if err := parseIPMA(b.body, assoc); err != nil {
						return 0, 0, fmt.Errorf("%w: ipma: %w", errHEIF, err)
					}
				}
			}
		}
	}
	if !havePrimary {
		return 0, 0, fmt.Errorf("%w: no primary item", errHEIF)
	}

	haveSize := false
	for _, idx := range assoc[primary] {
		if idx < 1 || idx > len(props) {
			continue // 0 means "no property"; others are broken references
		}
		body := props[idx-1]
		switch propTypes[idx-1] {
		case "ispe":
			if len(body) < 12 {
				return 0, 0, fmt.Errorf("%w: ispe too short", errHEIF)
			}
			w64 := binary.BigEndian.Uint32(body[4:])
			h64 := binary.BigEndian.Uint32(body[8:])
			if w64 > math.MaxInt32 || h64 > math.MaxInt32 {
				return 0, 0, fmt.Errorf("%w: ispe %dx%d", errHEIF, w64, h64)
			}
			w, h = int(w64), int(h64)
			haveSize = true
		case "clap":
			// Clean aperture: width and height as fractions N/D.
			if len(body) < 16 || !haveSize {
				continue
			}
			wn, wd := binary.BigEndian.Uint32(body[0:]), binary.BigEndian.Uint32(body[4:])
			hn, hd := binary.BigEndian.Uint32(body[8:]), binary.BigEndian.Uint32(body[12:])
			if wd == 0 || hd == 0 {
				continue
			}
			cw, ch := int(math.Round(float64(wn)/float64(wd))), int(math.Round(float64(hn)/float64(hd)))
			if cw > 0 && ch > 0 && cw <= w && ch <= h {
				w, h = cw, ch
			}
		case "irot":
			// Anticlockwise rotation in units of 90 degrees, low 2 bits.
			if len(body) >= 1 && body[0]&1 == 1 {
				w, h = h, w
			}
		}
	}
	if !haveSize {
		return 0, 0, fmt.Errorf("%w: primary item %d has no ispe", errHEIF, primary)
	}
	return w, h, nil
}

// parseIPMA adds the property indices of each item in an ipma box body to
// assoc, in the order listed (which is the order transforms apply in).
func parseIPMA(b []byte, assoc map[uint32][]int) error {
	if len(b) < 8 {
		return errors.New("too short")
	}
	version, wide := b[0], b[3]&1 == 1
	n := binary.BigEndian.Uint32(b[4:])
	p := 8
	for range n {
		var item uint32
		if version < 1 {
			if p+2 > len(b) {
				return errors.New("truncated")
			}
			item = uint32(binary.BigEndian.Uint16(b[p:]))
			p += 2
		} else {
			if p+4 > len(b) {
				return errors.New("truncated")
			}
			item = binary.BigEndian.Uint32(b[p:])
			p += 4
		}
		if p >= len(b) {
			return errors.New("truncated")
		}
		count := int(b[p])
		p++
		for range count {
			var idx int
			if wide {
				if p+2 > len(b) {
					return errors.New("truncated")
				}
				idx = int(binary.BigEndian.Uint16(b[p:]) & 0x7FFF)
				p += 2
			} else {
				if p+1 > len(b) {
					return errors.New("truncated")
				}
				idx = int(b[p] & 0x7F)
				p++
			}
			assoc[item] = append(assoc[item], idx)
		}
	}
	return nil
}

// readMetaBox finds the top-level meta box and returns its body.
func readMetaBox(r io.ReaderAt, size int64) ([]byte, error) {
	var off int64
	for range maxTopBoxes {
		if off+8 > size {
			break
		}
		var hdr [16]byte
		n, err := r.ReadAt(hdr[:], off)
		if n < 8 {
			return nil, fmt.Errorf("%w: box header at %d: %w", errHEIF, off, err)
		}
		boxSize := int64(binary.BigEndian.Uint32(hdr[:]))
		typ := string(hdr[4:8])
		hdrLen := int64(8)
		switch boxSize {
		case 0: // to the end of the file
			boxSize = size - off
		case 1: // 64-bit size follows
			if n < 16 {
				return nil, fmt.Errorf("%w: box header at %d: truncated", errHEIF, off)
			}
			boxSize = int64(binary.BigEndian.Uint64(hdr[8:]))
			hdrLen = 16
		}
		if boxSize < hdrLen || boxSize > size-off {
			return nil, fmt.Errorf("%w: box %q at %d: bad size %d", errHEIF, typ, off, boxSize)
		}
		if typ == "meta" {
			if boxSize > maxMetaSize {
				return nil, fmt.Errorf("%w: meta box of %d bytes", errHEIF, boxSize)
			}
			body := make([]byte, boxSize-hdrLen)
			if _, err := r.ReadAt(body, off+hdrLen); err != nil {
				return nil, fmt.Errorf("%w: read meta: %w", errHEIF, err)
			}
			return body, nil
		}
		off += boxSize
	}
	return nil, fmt.Errorf("%w: no meta box", errHEIF)
}

// isoBox is a box parsed from memory: its type and body (after the header).
type isoBox struct {
	typ  string
	body []byte
}

// parseBoxes splits b into the boxes laid end to end in it.
func parseBoxes(b []byte) ([]isoBox, error) {
	var out []isoBox
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, errors.New("truncated box header")
		}
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		hdr := uint64(8)
		switch size {
		case 0:
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return nil, errors.New("truncated box header")
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return nil, fmt.Errorf("box %q: bad size %d", typ, size)
		}
		out = append(out, isoBox{typ: typ, body: b[hdr:size]})
		b = b[size:]
	}
	return out, nil
}
