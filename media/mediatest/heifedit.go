package mediatest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// heif-enc (libheif 1.15) copies a JPEG's EXIF orientation into the Exif
// block but writes no rotation into the container, while phones write both.
// addRotation makes heif-enc's output look like a phone's: it appends an
// irot property (ISO/IEC 23008-12, 6.5.10) to the item property container,
// associates it with the primary item, and shifts the item locations that
// point past the meta box by the bytes it added.

// isoBox is one ISO-BMFF box inside a byte slice: [start, end) with a header
// of hdr bytes.
type isoBox struct {
	typ             string
	start, hdr, end int
}

func (b isoBox) body(file []byte) []byte { return file[b.start+b.hdr : b.end] }

// isoBoxes lists the boxes laid end to end in file[start:end].
func isoBoxes(file []byte, start, end int) ([]isoBox, error) {
	var out []isoBox
	for off := start; off < end; {
		if end-off < 8 {
			return nil, errors.New("truncated box header")
		}
		size := int(binary.BigEndian.Uint32(file[off:]))
		b := isoBox{typ: string(file[off+4 : off+8]), start: off, hdr: 8}
		switch size {
		case 0:
			size = end - off
		case 1:
			return nil, fmt.Errorf("box %q: 64-bit sizes not supported", b.typ)
		}
		if size < 8 || off+size > end {
			return nil, fmt.Errorf("box %q: bad size %d", b.typ, size)
		}
		b.end = off + size
		out = append(out, b)
		off = b.end
	}
	return out, nil
}

func findBox(boxes []isoBox, typ string) (isoBox, bool) {
	for _, b := range boxes {
		if b.typ == typ {
			return b, true
		}
	}
	return isoBox{}, false
}

// boxBytes returns a box with a 32-bit size header around body.
func boxBytes(typ string, body ...[]byte) []byte {
	n := 8
	for _, p := range body {
		n += len(p)
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, n), uint32(n))
	out = append(out, typ...)
	for _, p := range body {
		out = append(out, p...)
	}
	return out
}

// addRotation returns file with an irot property of ccw degrees
// (counter-clockwise, a multiple of 90) on its primary item.
func addRotation(file []byte, ccw int) ([]byte, error) {
	if ccw%90 != 0 || ccw < 0 || ccw >= 360 {
		return nil, fmt.Errorf("rotation %d is not 0, 90, 180 or 270", ccw)
	}
	top, err := isoBoxes(file, 0, len(file))
	if err != nil {
		return nil, err
	}
	meta, ok := findBox(top, "meta")
	if !ok {
		return nil, errors.New("no meta box")
	}
	metaBody := meta.body(file) // version and flags, then boxes
	children, err := isoBoxes(file, meta.start+meta.hdr+4, meta.end)
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	pitm, ok1 := findBox(children, "pitm")
	iprp, ok2 := findBox(children, "iprp")
	if !ok1 || !ok2 {
		return nil, errors.New("meta has no pitm or iprp")
	}
	primary := uint32(binary.BigEndian.Uint16(pitm.body(file)[4:]))
	if pitm.body(file)[0] != 0 {
		primary = binary.BigEndian.Uint32(pitm.body(file)[4:])
	}

	props, err := isoBoxes(file, iprp.start+iprp.hdr, iprp.end)
	if err != nil {
		return nil, fmt.Errorf("iprp: %w", err)
	}
	ipco, ok1 := findBox(props, "ipco")
	ipma, ok2 := findBox(props, "ipma")
	if !ok1 || !ok2 {
		return nil, errors.New("iprp has no ipco or ipma")
	}
	existing, err := isoBoxes(file, ipco.start+ipco.hdr, ipco.end)
	if err != nil {
		return nil, fmt.Errorf("ipco: %w", err)
	}
	index := len(existing) + 1 // property indices are 1-based
	newIpco := boxBytes("ipco", ipco.body(file), boxBytes("irot", []byte{byte(ccw / 90)}))
	newIpma, err := addAssociation(ipma.body(file), primary, index)
	if err != nil {
		return nil, fmt.Errorf("ipma: %w", err)
	}

	var iprpBody []byte
	for _, p := range props {
		switch p.typ {
		case "ipco":
			iprpBody = append(iprpBody, newIpco...)
		case "ipma":
			iprpBody = append(iprpBody, newIpma...)
		default:
			iprpBody = append(iprpBody, file[p.start:p.end]...)
		}
	}
	newIprp := boxBytes("iprp", iprpBody)
	delta := len(newIprp) - (iprp.end - iprp.start)

	newMetaBody := append([]byte(nil), metaBody[:4]...)
	for _, c := range children {
		switch c.typ {
		case "iprp":
			newMetaBody = append(newMetaBody, newIprp...)
		case "iloc":
			iloc, err := shiftLocations(file[c.start:c.end], meta.end, delta)
			if err != nil {
				return nil, fmt.Errorf("iloc: %w", err)
			}
			newMetaBody = append(newMetaBody, iloc...)
		default:
			newMetaBody = append(newMetaBody, file[c.start:c.end]...)
		}
	}

	var out bytes.Buffer
	out.Write(file[:meta.start])
	out.Write(boxBytes("meta", newMetaBody))
	out.Write(file[meta.end:])
	return out.Bytes(), nil
}

// addAssociation copies an ipma body (version, flags, entries) and adds an
// essential association of property index to item.
func addAssociation(body []byte, item uint32, index int) ([]byte, error) {
	version, flags := body[0], body[3]
	wide := flags&1 == 1
	if !wide && index > 127 {
		return nil, errors.New("property index too large for 7 bits")
	}
	n := binary.BigEndian.Uint32(body[4:])
	out := append([]byte(nil), body[:8]...)
	off := 8
	found := false
	for range n {
		start := off
		var id uint32
		if version < 1 {
			id = uint32(binary.BigEndian.Uint16(body[off:]))
			off += 2
		} else {
			id = binary.BigEndian.Uint32(body[off:])
			off += 4
		}
		count := int(body[off])
		off++
		width := 1
		if wide {
			width = 2
		}
		end := off + count*width
		if end > len(body) {
			return nil, errors.New("truncated entry")
		}
		if id != item {
			out = append(out, body[start:end]...)
			off = end
			continue
		}
		found = true
		out = append(out, body[start:off-1]...)
		out = append(out, byte(count+1))
		out = append(out, body[off:end]...)
		if wide {
			out = binary.BigEndian.AppendUint16(out, 0x8000|uint16(index))
		} else {
			out = append(out, 0x80|byte(index))
		}
		off = end
	}
	if !found {
		return nil, fmt.Errorf("no entry for item %d", item)
	}
	return boxBytes("ipma", out), nil
}

// shiftLocations copies an iloc box and adds delta to every file offset
// (construction method 0) at or past after.
func shiftLocations(box []byte, after, delta int) ([]byte, error) {
	out := append([]byte(nil), box...)
	b := out[8:] // body
	version := b[0]
	offSize, lenSize := int(b[4]>>4), int(b[4]&15)
	baseSize, idxSize := int(b[5]>>4), int(b[5]&15)
	if version == 0 {
		idxSize = 0
	}
	p := 6
	var count int
	if version < 2 {
		count = int(binary.BigEndian.Uint16(b[p:]))
		p += 2
	} else {
		count = int(binary.BigEndian.Uint32(b[p:]))
		p += 4
	}
	get := func(size int) int {
		v := 0
		for i := range size {
			v = v<<8 | int(b[p+i])
		}
		return v
	}
	put := func(size, v int) {
		for i := size - 1; i >= 0; i-- {
			b[p+i] = byte(v)
			v >>= 8
		}
	}
	for range count {
		if version < 2 {
			p += 2 // item ID
		} else {
			p += 4
		}
		method := 0
		if version >= 1 {
			method = int(binary.BigEndian.Uint16(b[p:]) & 15)
			p += 2
		}
		p += 2 // data reference index
		basePos, base := p, get(baseSize)
		p += baseSize
		extents := int(binary.BigEndian.Uint16(b[p:]))
		p += 2
		baseShifted := false
		for range extents {
			p += idxSize
			off := get(offSize)
			if method == 0 && base+off >= after {
				if baseSize > 0 {
					if !baseShifted {
						saved := p
						p = basePos
						put(baseSize, base+delta)
						p = saved
						baseShifted = true
					}
				} else {
					put(offSize, off+delta)
				}
			}
			p += offSize + lenSize
			if p > len(b) {
				return nil, errors.New("truncated")
			}
		}
	}
	return out, nil
}
