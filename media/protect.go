package media

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"strings"
	"sync"
	"unicode"

	"github.com/disintegration/imaging"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/unicode/norm"
)

// ProtectOptions says how a protected variant looks. The zero value of each
// field but Text and Logo takes a default.
type ProtectOptions struct {
	// MaxEdge caps the long edge of the output, e.g. 1600 (enhanced) or
	// 1200 (maximum). Smaller sources are never upscaled. Zero or less means
	// Config.DisplaySize.
	MaxEdge int
	// Text is the watermark text, e.g. the event's name or "© Studio Anna".
	// It is drawn in Go Bold; runes that font lacks (CJK, emoji) are shown
	// as "?", and only the first 256 runes are used. It may be empty when
	// Logo is set.
	Text string
	// Logo is an optional logo, with alpha, drawn left of the text (or alone
	// when Text is empty), scaled to 2.4 times the text size. It is resized
	// on every call: pass one of a few hundred pixels, not a poster.
	Logo image.Image
	// Opacity is the strength of the mark from 0 to 1, e.g. 0.35 (enhanced)
	// or 0.5 (maximum). Zero or less (or NaN) means 0.35; above 1 means 1.
	Opacity float64
	// Tiled repeats the mark diagonally across the whole image (maximum);
	// otherwise one mark is drawn in the lower right and one in the centre
	// (enhanced).
	Tiled bool
	// Quality is the JPEG quality 1-100; zero or less means 82.
	Quality int
}

// Defaults and proportions of the protected variant. Sizes are fractions of
// the output's short edge.
const (
	protectQuality  = 82
	protectOpacity  = 0.35
	markTextSize    = 0.05 // em of the text: capitals about 3.6%, line about 5.5%
	markMinTextSize = 8    // px: the text never shrinks below this nor below half its size
	markMargin      = 0.03 // between the lower-right mark and the edges
	markLogoHeight  = 2.4  // logo height in ems
	markHalo        = 0.07 // radius of the dark outline in ems
	markMaxRunes    = 256  // longer texts could never fit anyway
	markAngle       = 30   // degrees counter-clockwise of the tiled marks
)

// markFont is Go Bold, parsed once; a parsed font is safe for concurrent use.
var markFont = sync.OnceValues(func() (*opentype.Font, error) {
	return opentype.Parse(gobold.TTF)
})

// Protect writes a protected copy of the image at path (any format Probe and
// Derivatives accept, video included; for speed callers pass the display
// JPEG made by Derivatives): resized so its long edge is at most
// opts.MaxEdge, oriented like the display copy (the same decoding, EXIF
// orientation and flattening onto white as Derivatives), with a visible
// watermark, as a baseline JPEG with no metadata. It returns the output
// size.
//
// The mark is white with a dark outline, so it shows on light and dark
// pictures alike, blended at opts.Opacity. Its text is about 5% of the
// output's short edge high; a text too long for the width is shrunk, down
// to half that size (but not below 8 px), then cut with "…". When
// opts.Text is empty (or only spaces) and opts.Logo is nil, the output is a
// resized copy with no mark.
//
// Decoding cannot be interrupted: ctx is checked between the steps, and
// stops ffmpeg for a video. The cost is that of decoding, resizing and
// encoding, as for the display copy; DecodeCost of the source's Info covers
// its memory. Drawing the mark takes a few milliseconds. From a 2048 px
// display JPEG: about 0.1-0.2 s of CPU and 20 MB allocated.
func Protect(ctx context.Context, cfg Config, path string, opts ProtectOptions, w io.Writer) (width, height int, err error) {
	cfg = cfg.withDefaults()
	if err := ctx.Err(); err != nil {
		return 0, 0, fmt.Errorf("protect %s: %w", path, err)
	}
	info, err := Probe(ctx, cfg, path)
	if err != nil {
		return 0, 0, fmt.Errorf("protect: %w", err)
	}
	if opts.MaxEdge > 0 {
		cfg.DisplaySize = opts.MaxEdge
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, fmt.Errorf("protect %s: %w", path, err)
	}

	var img *image.NRGBA
	if info.Format.Kind() == KindVideo {
		img, err = videoFrame(ctx, cfg, path, info)
	} else {
		img, err = displayImage(cfg, path, info)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("protect %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, fmt.Errorf("protect %s: %w", path, err)
	}
	if err := watermark(img, opts); err != nil {
		return 0, 0, fmt.Errorf("protect %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, fmt.Errorf("protect %s: %w", path, err)
	}

	quality := opts.Quality
	if quality <= 0 {
		quality = protectQuality
	}
	if err := encodeJPEG(w, img, min(quality, 100)); err != nil {
		return 0, 0, fmt.Errorf("protect %s: write: %w", path, err)
	}
	return img.Rect.Dx(), img.Rect.Dy(), nil
}

// watermark draws the mark opts describe onto the opaque img, in place.
func watermark(img *image.NRGBA, opts ProtectOptions) error {
	logo := opts.Logo
	if logo != nil && logo.Bounds().Empty() {
		logo = nil
	}
	f, err := markFont()
	if err != nil {
		return fmt.Errorf("watermark font: %w", err)
	}
	text := markText(f, opts.Text)
	if text == "" && logo == nil {
		return nil
	}
	opacity := opts.Opacity
	if !(opacity > 0) { // also NaN
		opacity = protectOpacity
	}
	opacity = min(opacity, 1)

	W, H := img.Rect.Dx(), img.Rect.Dy()
	short := min(W, H)
	em := max(1, float64(short)*markTextSize)
	margin := int(math.Round(float64(short) * markMargin))

	if !opts.Tiled {
		st, err := makeStamp(f, text, logo, em, max(1, W-2*margin), max(1, H/4))
		if err != nil {
			return err
		}
		sw, sh := st.Rect.Dx(), st.Rect.Dy()
		blend(img, st, image.Pt(W-margin-sw, H-margin-sh), opacity)
		blend(img, st, image.Pt((W-sw)/2, (H-sh)/2), opacity)
		return nil
	}

	st, err := makeStamp(f, text, logo, em, max(1, max(W, H)-2*margin), max(1, short/4))
	if err != nil {
		return err
	}
	sw, sh := float64(st.Rect.Dx()), float64(st.Rect.Dy())
	rot := imaging.Rotate(st, markAngle, color.Transparent)
	rw, rh := rot.Rect.Dx(), rot.Rect.Dy()

	// Centres on a staggered lattice along the text direction u and across
	// it v, through the centre of the picture.
	sin, cos := math.Sincos(markAngle * math.Pi / 180)
	ux, uy := cos, -sin // y grows downwards
	vx, vy := sin, cos
	su := sw + max(2*sh, sw/2)
	sv := max(3*sh, float64(short)/5)
	reach := math.Hypot(float64(W), float64(H))/2 + float64(max(rw, rh))
	ni, nj := int(reach/su)+2, int(reach/sv)+2
	cx, cy := float64(W)/2, float64(H)/2
	for j := -nj; j <= nj; j++ {
		shift := 0.0
		if j%2 != 0 {
			shift = su / 2
		}
		for i := -ni; i <= ni; i++ {
			a := float64(i)*su + shift
			b := float64(j) * sv
			x := cx + a*ux + b*vx
			y := cy + a*uy + b*vy
			blend(img, rot, image.Pt(int(math.Round(x))-rw/2, int(math.Round(y))-rh/2), opacity)
		}
	}
	return nil
}

// markText prepares a watermark text for the font: composed (NFC), at most
// markMaxRunes runes, spaces and control characters turned into single
// spaces, invisible format characters dropped, and each run of runes the
// font lacks (or invalid UTF-8) replaced by one "?". Surrounding spaces are trimmed.
func markText(f *opentype.Font, s string) string {
	s = norm.NFC.String(s)
	var (
		b       strings.Builder
		buf     sfnt.Buffer
		n       int
		space   bool // a space is pending
		missing bool // the last rune written was a "?" for a missing one
	)
	for _, r := range s {
		if n >= markMaxRunes {
			break
		}
		n++
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			space = true
			continue
		case unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Mn, r) && !hasGlyph(f, &buf, r):
			continue // zero-width joiners, bidi marks, stray accents
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			missing = false
		}
		space = false
		if r == unicode.ReplacementChar || !hasGlyph(f, &buf, r) {
			if !missing {
				b.WriteByte('?')
				missing = true
			}
			continue
		}
		b.WriteRune(r)
		missing = false
	}
	return b.String()
}

// hasGlyph reports whether f has a glyph for r (index 0 is .notdef).
func hasGlyph(f *opentype.Font, buf *sfnt.Buffer, r rune) bool {
	x, err := f.GlyphIndex(buf, r)
	return err == nil && x != 0
}

// stampLayout is where the logo and the text go in a stamp of size w×h.
type stampLayout struct {
	w, h       int
	halo       int
	logoRect   image.Rectangle
	textOrigin fixed.Point26_6 // the dot to draw the text from
}

// layoutStamp measures a stamp of text (in face) and a logo of logoW×logoH
// side by side, vertically centred, with room for the halo all around.
func layoutStamp(face font.Face, text string, logoW, logoH, halo int) stampLayout {
	pad := halo + 1
	var tb fixed.Rectangle26_6
	textW, textH := 0, 0
	if text != "" {
		tb, _ = font.BoundString(face, text)
		textW = tb.Max.X.Ceil() - tb.Min.X.Floor()
		textH = tb.Max.Y.Ceil() - tb.Min.Y.Floor()
	}
	gap := 0
	if logoW > 0 && textW > 0 {
		gap = max(1, logoH/4)
	}
	contentH := max(logoH, textH)
	l := stampLayout{
		w:    logoW + gap + textW + 2*pad,
		h:    contentH + 2*pad,
		halo: halo,
	}
	l.logoRect = image.Rect(pad, pad+(contentH-logoH)/2, pad+logoW, pad+(contentH-logoH)/2+logoH)
	tx := pad + logoW + gap
	ty := pad + (contentH-textH)/2
	l.textOrigin = fixed.Point26_6{
		X: fixed.I(tx) - fixed.I(tb.Min.X.Floor()),
		Y: fixed.I(ty) - fixed.I(tb.Min.Y.Floor()),
	}
	return l
}

// makeStamp renders the mark at full strength as an NRGBA image no larger
// than maxW×maxH: the logo, then the text in white, both outlined in black.
// It shrinks the mark (em is the nominal text size in pixels) until it
// fits, down to half its size or markMinTextSize, then cuts the text with
// an ellipsis, and as a last resort scales the rendered stamp down.
func makeStamp(f *opentype.Font, text string, logo image.Image, em float64, maxW, maxH int) (*image.NRGBA, error) {
	minEm := min(em, max(markMinTextSize, em/2))
	var logoW, logoH int
	logoSize := func(em float64) {
		logoW, logoH = 0, 0
		if logo == nil {
			return
		}
		b := logo.Bounds()
		logoH = max(1, int(math.Round(em*markLogoHeight)))
		logoW = max(1, int(math.Round(float64(b.Dx())*float64(logoH)/float64(b.Dy()))))
	}
	newFace := func(em float64) (font.Face, error) {
		face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: em, DPI: 72, Hinting: font.HintingNone})
		if err != nil {
			return nil, fmt.Errorf("watermark face: %w", err)
		}
		return face, nil
	}
	halo := func(em float64) int { return max(1, int(math.Round(em*markHalo))) }

	var (
		face font.Face
		l    stampLayout
		err  error
	)
	for attempt := 0; ; attempt++ {
		if face, err = newFace(em); err != nil {
			return nil, err
		}
		logoSize(em)
		l = layoutStamp(face, text, logoW, logoH, halo(em))
		if l.w <= maxW && l.h <= maxH || attempt == 4 || em <= minEm {
			break
		}
		_ = face.Close()
		em = max(minEm, em*min(float64(maxW)/float64(l.w), float64(maxH)/float64(l.h))*0.99)
	}
	defer func() { _ = face.Close() }()
	if l.w > maxW && text != "" {
		text, l = shorten(face, text, logoW, logoH, l.halo, maxW)
	}

	// Ink: the text mask and the logo; the halo is the ink's alpha dilated.
	rect := image.Rect(0, 0, l.w, l.h)
	textMask := image.NewAlpha(rect)
	if text != "" {
		d := font.Drawer{Dst: textMask, Src: image.Opaque, Face: face, Dot: l.textOrigin}
		d.DrawString(text)
	}
	var logoImg *image.NRGBA
	if logo != nil {
		logoImg = imaging.Resize(logo, logoW, logoH, imaging.Linear)
	}
	ink := make([]uint8, l.w*l.h)
	copy(ink, textMask.Pix) // Stride == w for a fresh Alpha
	if logoImg != nil {
		for y := range logoH {
			for x := range logoW {
				a := logoImg.Pix[y*logoImg.Stride+4*x+3]
				i := (l.logoRect.Min.Y+y)*l.w + l.logoRect.Min.X + x
				ink[i] = max(ink[i], a)
			}
		}
	}
	halos := dilate(ink, l.w, l.h, l.halo)

	st := image.NewNRGBA(rect)
	for y := range l.h {
		for x := range l.w {
			i := y*l.w + x
			// Premultiplied, from the bottom: black halo, white text, logo.
			alpha := float64(halos[i]) / 255
			var cr, cg, cb float64
			if t := float64(textMask.Pix[i]) / 255; t > 0 {
				cr, cg, cb = t+cr*(1-t), t+cg*(1-t), t+cb*(1-t)
				alpha = t + alpha*(1-t)
			}
			if logoImg != nil && image.Pt(x, y).In(l.logoRect) {
				p := logoImg.Pix[(y-l.logoRect.Min.Y)*logoImg.Stride+4*(x-l.logoRect.Min.X):]
				if a := float64(p[3]) / 255; a > 0 {
					cr = a*float64(p[0])/255 + cr*(1-a)
					cg = a*float64(p[1])/255 + cg*(1-a)
					cb = a*float64(p[2])/255 + cb*(1-a)
					alpha = a + alpha*(1-a)
				}
			}
			if alpha <= 0 {
				continue
			}
			o := st.Pix[y*st.Stride+4*x:]
			o[0] = uint8(math.Round(min(cr/alpha, 1) * 255))
			o[1] = uint8(math.Round(min(cg/alpha, 1) * 255))
			o[2] = uint8(math.Round(min(cb/alpha, 1) * 255))
			o[3] = uint8(math.Round(alpha * 255))
		}
	}
	if l.w > maxW || l.h > maxH {
		st = imaging.Fit(st, maxW, maxH, imaging.Linear)
	}
	return st, nil
}

// shorten cuts text, keeping as many leading runes as fit, followed by an
// ellipsis, so that the stamp is at most maxW wide; it returns the text and
// its layout. The text may end up empty.
func shorten(face font.Face, text string, logoW, logoH, halo, maxW int) (string, stampLayout) {
	ellipsis := "…"
	if _, ok := face.GlyphAdvance('…'); !ok {
		ellipsis = "..."
	}
	runes := []rune(text)
	fits := func(n int) (string, stampLayout, bool) {
		s := strings.TrimRight(string(runes[:n]), " ") + ellipsis
		if n == 0 {
			s = ""
		}
		l := layoutStamp(face, s, logoW, logoH, halo)
		return s, l, l.w <= maxW
	}
	// Binary search for the largest n that fits; n = 0 always "fits".
	lo, hi := 0, len(runes)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if _, _, ok := fits(mid); ok {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	s, l, _ := fits(lo)
	return s, l
}

// dilate returns the w×h alpha plane a grown by a disc of radius r: each
// pixel takes the largest value within r of it.
func dilate(a []uint8, w, h, r int) []uint8 {
	type off struct{ dx, dy int }
	var disc []off
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			if dx*dx+dy*dy <= r*r+r { // r*r+r rounds the disc a little
				disc = append(disc, off{dx, dy})
			}
		}
	}
	out := make([]uint8, len(a))
	for y := range h {
		for x := range w {
			v := a[y*w+x]
			if v == 0 {
				continue
			}
			for _, o := range disc {
				xx, yy := x+o.dx, y+o.dy
				if xx < 0 || yy < 0 || xx >= w || yy >= h {
					continue
				}
				if p := &out[yy*w+xx]; *p < v {
					*p = v
				}
			}
		}
	}
	return out
}

// blend draws src at the given opacity over the opaque dst, with src's
// top-left corner at at; what falls outside dst is clipped.
func blend(dst, src *image.NRGBA, at image.Point, opacity float64) {
	r := src.Rect.Sub(src.Rect.Min).Add(at).Intersect(dst.Rect)
	if r.Empty() {
		return
	}
	const one = 255 * 256
	k := uint32(math.Round(opacity * 256))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		d := dst.Pix[dst.PixOffset(r.Min.X, y):dst.PixOffset(r.Max.X, y)]
		s := src.Pix[src.PixOffset(src.Rect.Min.X+r.Min.X-at.X, src.Rect.Min.Y+y-at.Y):]
		for i := 0; i < len(d); i += 4 {
			a := uint32(s[i+3]) * k
			if a == 0 {
				continue
			}
			for c := range 3 {
				d[i+c] = uint8((uint32(d[i+c])*(one-a) + uint32(s[i+c])*a + one/2) / one)
			}
		}
	}
}
