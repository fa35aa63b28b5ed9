//go:build cgo && !nojpegturbo

package media

// A thin wrapper of our own over the system's libjpeg (Debian: libjpeg62-turbo-dev) for
// two jobs: decode a JPEG file at n/8 of its size in the DCT domain (libjpeg's
// scale_num/scale_denom), straight into the RGBA bytes of an *image.NRGBA; and encode
// the derivatives. Only the two C functions below cross into libjpeg; errors come back
// as a code and libjpeg's text.

/*
#cgo LDFLAGS: -ljpeg
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

enum {
	GL_OK = 0,
	GL_OPEN = 1,      // fopen failed
	GL_LIBJPEG = 2,   // libjpeg refused the data (message in msg)
	GL_DAMAGED = 3,   // libjpeg decoded with corrupt-data warnings (message in msg)
	GL_UNSUPPORTED = 4 // a colour space or size this wrapper leaves to image/jpeg
};

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	char *msg;
	int msglen;
} gl_error_mgr;

// libjpeg's default error_exit ends the process: jump back to gl_decode instead.
static void gl_error_exit(j_common_ptr cinfo) {
	gl_error_mgr *e = (gl_error_mgr *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, e->msg);
	longjmp(e->jump, 1);
}

// Warnings (level -1) are counted and the first one kept; trace messages are dropped.
// Nothing is printed.
static void gl_emit_message(j_common_ptr cinfo, int level) {
	gl_error_mgr *e = (gl_error_mgr *)cinfo->err;
	if (level < 0) {
		if (cinfo->err->num_warnings == 0) {
			(*cinfo->err->format_message)(cinfo, e->msg);
		}
		cinfo->err->num_warnings++;
	}
}

// gl_decode decodes the JPEG at path, scaled by n/8, into pix: w×h pixels of 4 bytes
// (R, G, B, 255), rows of 4·w bytes. w and h are what the caller computed from the
// header; any other output size is GL_UNSUPPORTED. msg receives libjpeg's message
// (JMSG_LENGTH_MAX bytes).
static int gl_decode(const char *path, int n, unsigned char *pix, int w, int h, char *msg) {
	struct jpeg_decompress_struct cinfo;
	gl_error_mgr jerr;
	FILE *volatile f = NULL;
	volatile int rc = GL_OK;
	msg[0] = 0;
	memset(&cinfo, 0, sizeof cinfo); // jpeg_destroy_decompress is then safe at any point

	f = fopen(path, "rb");
	if (f == NULL) {
		return GL_OPEN;
	}
	setvbuf(f, NULL, _IOFBF, 64 << 10);
	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = gl_error_exit;
	jerr.pub.emit_message = gl_emit_message;
	jerr.msg = msg;
	if (setjmp(jerr.jump)) {
		jpeg_destroy_decompress(&cinfo);
		fclose(f);
		return GL_LIBJPEG;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_stdio_src(&cinfo, f);
	jpeg_read_header(&cinfo, TRUE);
	// CMYK and YCCK (Adobe) cannot be converted to RGB by libjpeg; image/jpeg can.
	if (cinfo.jpeg_color_space != JCS_YCbCr && cinfo.jpeg_color_space != JCS_GRAYSCALE &&
	    cinfo.jpeg_color_space != JCS_RGB) {
		rc = GL_UNSUPPORTED;
		goto done;
	}
	cinfo.out_color_space = JCS_EXT_RGBA;
	cinfo.scale_num = (unsigned int)n;
	cinfo.scale_denom = 8;
	cinfo.dct_method = JDCT_ISLOW;
	jpeg_calc_output_dimensions(&cinfo);
	if ((int)cinfo.output_width != w || (int)cinfo.output_height != h || cinfo.output_components != 4) {
		rc = GL_UNSUPPORTED;
		goto done;
	}
	jpeg_start_decompress(&cinfo);
	{
		JSAMPROW rows[16];
		size_t stride = (size_t)w * 4;
		while (cinfo.output_scanline < cinfo.output_height) {
			int want = (int)(cinfo.output_height - cinfo.output_scanline);
			if (want > 16) {
				want = 16;
			}
			for (int i = 0; i < want; i++) {
				rows[i] = pix + (size_t)(cinfo.output_scanline + i) * stride;
			}
			if (jpeg_read_scanlines(&cinfo, rows, (JDIMENSION)want) == 0) {
				break; // suspended: cannot happen with a stdio source
			}
		}
	}
	if (cinfo.output_scanline < cinfo.output_height) {
		rc = GL_DAMAGED;
		goto done;
	}
	jpeg_finish_decompress(&cinfo);
	if (jerr.pub.num_warnings > 0) {
		rc = GL_DAMAGED;
	}
done:
	jpeg_destroy_decompress(&cinfo);
	fclose(f);
	return rc;
}

// gl_encode compresses w×h pixels of 4 bytes (R, G, B, ignored), rows stride bytes apart,
// as a baseline 4:2:0 JPEG at quality with no JFIF or other marker segment, into a
// buffer libjpeg allocates with malloc: the caller frees *out.
static int gl_encode(const unsigned char *pix, int w, int h, int stride, int quality,
		unsigned char **out, unsigned long *outlen, char *msg) {
	struct jpeg_compress_struct cinfo;
	gl_error_mgr jerr;
	msg[0] = 0;
	memset(&cinfo, 0, sizeof cinfo);
	*out = NULL;
	*outlen = 0;
	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = gl_error_exit;
	jerr.pub.emit_message = gl_emit_message;
	jerr.msg = msg;
	if (setjmp(jerr.jump)) {
		jpeg_destroy_compress(&cinfo);
		free(*out);
		*out = NULL;
		return GL_LIBJPEG;
	}
	jpeg_create_compress(&cinfo);
	jpeg_mem_dest(&cinfo, out, outlen);
	cinfo.image_width = (JDIMENSION)w;
	cinfo.image_height = (JDIMENSION)h;
	cinfo.input_components = 4;
	cinfo.in_color_space = JCS_EXT_RGBX;
	jpeg_set_defaults(&cinfo);
	jpeg_set_quality(&cinfo, quality, TRUE);
	cinfo.write_JFIF_header = FALSE;
	cinfo.write_Adobe_marker = FALSE;
	cinfo.dct_method = JDCT_ISLOW;
	jpeg_start_compress(&cinfo, TRUE);
	{
		JSAMPROW rows[16];
		while (cinfo.next_scanline < cinfo.image_height) {
			int n = (int)(cinfo.image_height - cinfo.next_scanline);
			if (n > 16) {
				n = 16;
			}
			for (int i = 0; i < n; i++) {
				rows[i] = (JSAMPROW)(pix + (size_t)(cinfo.next_scanline + i) * (size_t)stride);
			}
			jpeg_write_scanlines(&cinfo, rows, (JDIMENSION)n);
		}
	}
	jpeg_finish_compress(&cinfo);
	jpeg_destroy_compress(&cinfo);
	return GL_OK;
}
*/
import "C"

import (
	"fmt"
	"image"
	"io"
	"unsafe"
)

// jpegTurbo tells whether this build decodes JPEGs through libjpeg-turbo.
const jpegTurbo = true

// decodeJPEGScaled decodes the w×h JPEG at path at the n/8 scale that jpegScale picks
// for a display copy of long edge long, as an opaque *image.NRGBA. Any failure returns
// an error and the caller decodes with image/jpeg, which then decides: libjpeg accepts
// some damaged files with warnings, and leaves CMYK to image/jpeg.
func decodeJPEGScaled(path string, w, h, long int) (*image.NRGBA, error) {
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("libjpeg: %s: bad size %dx%d", path, w, h)
	}
	n := jpegScale(w, h, long)
	sw, sh := scaledEdge(w, n), scaledEdge(h, n)
	img := image.NewNRGBA(image.Rect(0, 0, sw, sh))
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var msg [C.JMSG_LENGTH_MAX]C.char
	// pix is Go memory without Go pointers, used only during the call: allowed by the
	// cgo pointer rules.
	rc := C.gl_decode(cpath, C.int(n), (*C.uchar)(unsafe.Pointer(&img.Pix[0])), C.int(sw), C.int(sh), &msg[0])
	switch rc {
	case C.GL_OK:
		return img, nil
	case C.GL_OPEN:
		return nil, fmt.Errorf("libjpeg: open %s", path)
	case C.GL_UNSUPPORTED:
		return nil, fmt.Errorf("libjpeg: %s: colour space or size left to image/jpeg", path)
	default:
		return nil, fmt.Errorf("libjpeg: %s: %s", path, C.GoString(&msg[0]))
	}
}

// encodeJPEGTurbo writes an opaque img as a baseline JPEG (4:2:0, no metadata) at
// quality through libjpeg-turbo: about a tenth of image/jpeg's time.
func encodeJPEGTurbo(w io.Writer, img *image.NRGBA, quality int) error {
	b := img.Rect
	if b.Empty() {
		return fmt.Errorf("libjpeg: encode an empty %v image", b)
	}
	var out *C.uchar
	var n C.ulong
	var msg [C.JMSG_LENGTH_MAX]C.char
	rc := C.gl_encode((*C.uchar)(unsafe.Pointer(&img.Pix[img.PixOffset(b.Min.X, b.Min.Y)])), C.int(b.Dx()), C.int(b.Dy()),
		C.int(img.Stride), C.int(quality), &out, &n, &msg[0])
	if rc != C.GL_OK {
		return fmt.Errorf("libjpeg: encode: %s", C.GoString(&msg[0]))
	}
	defer C.free(unsafe.Pointer(out))
	_, err := w.Write(unsafe.Slice((*byte)(unsafe.Pointer(out)), int(n)))
	return err
}
