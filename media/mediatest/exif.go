package mediatest

import (
	"bytes"
	"encoding/binary"
)

// EXIF lists the metadata JPEG writes into its APP1 segment. Zero fields are
// left out of the file, so a nil or empty EXIF gives a JPEG without those tags.
type EXIF struct {
	// Orientation is the EXIF orientation 1-8; 0 leaves the tag out.
	Orientation int
	// DateTimeOriginal is written as given, normally "2006:01:02 15:04:05".
	DateTimeOriginal string
	// OffsetTimeOriginal is written as given, normally "+02:00".
	OffsetTimeOriginal string
	// Make and Model name the camera.
	Make, Model string
	// GPS writes a GPS IFD with a latitude and longitude (52°31'N 13°24'E),
	// so tests can check that derivatives do not carry it.
	GPS bool
}

// TIFF field types used by the writer (TIFF 6.0, section 2).
const (
	typeByte      = 1
	typeASCII     = 2
	typeShort     = 3
	typeLong      = 4
	typeRational  = 5
	typeUndefined = 7
)

// Tags written by the writer (EXIF 2.32).
const (
	tagMake               = 0x010F
	tagModel              = 0x0110
	tagOrientation        = 0x0112
	tagExifIFD            = 0x8769
	tagGPSIFD             = 0x8825
	tagExifVersion        = 0x9000
	tagDateTimeOriginal   = 0x9003
	tagOffsetTimeOriginal = 0x9011
	tagGPSVersionID       = 0x0000
	tagGPSLatitudeRef     = 0x0001
	tagGPSLatitude        = 0x0002
	tagGPSLongitudeRef    = 0x0003
	tagGPSLongitude       = 0x0004
)

// order is the byte order of the TIFF structure: big endian ("MM"), as most
// cameras write it.
var order = binary.BigEndian

// field is one IFD entry; value holds the bytes of the value, already in
// order, and is placed inline when it fits in 4 bytes.
type field struct {
	tag   uint16
	typ   uint16
	count uint32
	value []byte
}

// ifd is an image file directory: its fields in ascending tag order.
type ifd []field

// size is the bytes the directory itself takes: count, entries, next offset.
func (d ifd) size() uint32 { return 2 + 12*uint32(len(d)) + 4 }

// dataSize is the bytes of the values that do not fit inline, each padded to
// an even length as TIFF requires word alignment.
func (d ifd) dataSize() uint32 {
	var n uint32
	for _, f := range d {
		if len(f.value) > 4 {
			n += uint32(len(f.value)+1) &^ 1
		}
	}
	return n
}

// write appends the directory, which starts at offset start of the TIFF
// structure, and its out-of-line values to buf.
func (d ifd) write(buf *bytes.Buffer, start uint32) {
	data := start + d.size()
	var tail bytes.Buffer
	_ = binary.Write(buf, order, uint16(len(d)))
	for _, f := range d {
		_ = binary.Write(buf, order, f.tag)
		_ = binary.Write(buf, order, f.typ)
		_ = binary.Write(buf, order, f.count)
		if len(f.value) <= 4 {
			var inline [4]byte
			copy(inline[:], f.value)
			buf.Write(inline[:])
			continue
		}
		_ = binary.Write(buf, order, data+uint32(tail.Len()))
		tail.Write(f.value)
		if len(f.value)%2 == 1 {
			tail.WriteByte(0)
		}
	}
	_ = binary.Write(buf, order, uint32(0)) // no next IFD
	buf.Write(tail.Bytes())
}

func asciiField(tag uint16, s string) field {
	v := append([]byte(s), 0)
	return field{tag: tag, typ: typeASCII, count: uint32(len(v)), value: v}
}

func shortField(tag uint16, v uint16) field {
	return field{tag: tag, typ: typeShort, count: 1, value: order.AppendUint16(nil, v)}
}

func longField(tag uint16, v uint32) field {
	return field{tag: tag, typ: typeLong, count: 1, value: order.AppendUint32(nil, v)}
}

// rationalField writes unsigned rationals given as numerator, denominator pairs.
func rationalField(tag uint16, nd ...uint32) field {
	var v []byte
	for _, x := range nd {
		v = order.AppendUint32(v, x)
	}
	return field{tag: tag, typ: typeRational, count: uint32(len(nd) / 2), value: v}
}

// tiff builds the TIFF structure of an Exif APP1 segment: IFD0 (Make, Model,
// Orientation, pointers), then the Exif IFD, then the GPS IFD.
func (e *EXIF) tiff() []byte {
	var ifd0, exif, gps ifd
	if e.Make != "" {
		ifd0 = append(ifd0, asciiField(tagMake, e.Make))
	}
	if e.Model != "" {
		ifd0 = append(ifd0, asciiField(tagModel, e.Model))
	}
	if e.Orientation != 0 {
		ifd0 = append(ifd0, shortField(tagOrientation, uint16(e.Orientation)))
	}
	exif = append(exif, field{tag: tagExifVersion, typ: typeUndefined, count: 4, value: []byte("0232")})
	if e.DateTimeOriginal != "" {
		exif = append(exif, asciiField(tagDateTimeOriginal, e.DateTimeOriginal))
	}
	if e.OffsetTimeOriginal != "" {
		exif = append(exif, asciiField(tagOffsetTimeOriginal, e.OffsetTimeOriginal))
	}
	if e.GPS {
		gps = ifd{
			{tag: tagGPSVersionID, typ: typeByte, count: 4, value: []byte{2, 3, 0, 0}},
			asciiField(tagGPSLatitudeRef, "N"),
			rationalField(tagGPSLatitude, 52, 1, 31, 1, 0, 1),
			asciiField(tagGPSLongitudeRef, "E"),
			rationalField(tagGPSLongitude, 13, 1, 24, 1, 0, 1),
		}
	}

	// Layout: 8-byte header, IFD0 and its data, Exif IFD and its data, GPS
	// IFD and its data. The pointer fields have a fixed size, so they can be
	// added before the offsets they hold are known.
	ifd0 = append(ifd0, longField(tagExifIFD, 0))
	if gps != nil {
		ifd0 = append(ifd0, longField(tagGPSIFD, 0))
	}
	exifAt := 8 + ifd0.size() + ifd0.dataSize()
	gpsAt := exifAt + exif.size() + exif.dataSize()
	for i := range ifd0 {
		switch ifd0[i].tag {
		case tagExifIFD:
			ifd0[i].value = order.AppendUint32(nil, exifAt)
		case tagGPSIFD:
			ifd0[i].value = order.AppendUint32(nil, gpsAt)
		}
	}

	var buf bytes.Buffer
	buf.WriteString("MM")
	_ = binary.Write(&buf, order, uint16(42))
	_ = binary.Write(&buf, order, uint32(8))
	ifd0.write(&buf, 8)
	exif.write(&buf, exifAt)
	if gps != nil {
		gps.write(&buf, gpsAt)
	}
	return buf.Bytes()
}

// app1 returns the complete APP1 marker segment carrying e.
func (e *EXIF) app1() []byte {
	payload := append([]byte("Exif\x00\x00"), e.tiff()...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(2+len(payload)))
	return append(seg, payload...)
}
