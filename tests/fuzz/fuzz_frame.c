/* fuzz_frame.c: libFuzzer target for the wire decoder. The input is read
 * as a stream of frames, the way the receiver reads a connection: header,
 * checksum and decompression, then the payload decoder of the frame's type.
 * The checksum would stop almost every mutation at the door, so a frame
 * whose checksum field is zero gets its checksum filled in first, letting
 * the fuzzer reach the zstd and msgpack layers. Version 2 SAMPLES go
 * through the protocol 2 decoder with one delta state for the input, as
 * on one connection, and ACKs through the ACK decoder. */
#include "common/buf.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/samples2.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_series(void *arg, uint64_t ref, struct vg_series *s, struct vg_err *err)
{
	(void)ref;
	(void)err;
	*(size_t *)arg += s->n_labels + 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vg_frame_codec *codec;
	static struct vg_sample_batch batch;
	struct vg_buf frame = VG_BUF_INIT;
	struct vg_samples2_state s2;
	size_t off = 0;

	if (codec == NULL) {
		codec = vg_frame_codec_new(1);
		vg_sample_batch_init(&batch);
	}
	vg_samples2_state_init(&s2);
	while (size - off >= VG_FRAME_HEADER_SIZE) {
		struct vg_frame_header h;
		struct vg_err err;
		const uint8_t *raw;
		size_t raw_len, seen = 0;
		struct vg_hello hello;
		struct vg_error_msg em;

		if (vg_frame_header_decode(data + off, &h, &err) != 0)
			break;
		if (h.payload_len > size - off - VG_FRAME_HEADER_SIZE)
			break;
		vg_buf_reset(&frame);
		vg_buf_append(&frame, data + off, VG_FRAME_HEADER_SIZE + h.payload_len);
		if (vg_buf_failed(&frame))
			break;
		if (h.checksum == 0) {
			h.checksum = (uint32_t)XXH3_64bits_withSeed(frame.data + VG_FRAME_HEADER_SIZE,
								    h.payload_len, XXH3_64bits(frame.data, 20));
		}
		off += VG_FRAME_HEADER_SIZE + h.payload_len;
		if (vg_frame_open(codec, &h, frame.data + VG_FRAME_HEADER_SIZE, &raw, &raw_len, &err) != 0)
			continue;
		switch (h.type) {
		case VG_FRAME_HELLO:
			vg_hello_decode(raw, raw_len, &hello, &err);
			break;
		case VG_FRAME_SERIES:
			vg_series_decode(raw, raw_len, count_series, &seen, &err);
			break;
		case VG_FRAME_SAMPLES:
			if (h.version >= VG_PROTO_V2)
				vg_samples2_decode(&s2, raw, raw_len, 4096, &batch, &err);
			else
				vg_samples_decode(raw, raw_len, &batch, &err);
			break;
		case VG_FRAME_ACK: {
			struct vg_ack ack;
			vg_ack_decode(raw, raw_len, &ack, &err);
			break;
		}
		case VG_FRAME_ERROR:
			vg_error_decode(raw, raw_len, &em, &err);
			break;
		}
	}
	vg_buf_release(&frame);
	vg_samples2_state_release(&s2);
	return 0;
}
