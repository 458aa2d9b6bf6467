/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The built-in software data, the .txt and .yar files of data/software/, compiled in as bytes.
 * Each file is followed by a NUL that its end symbol does not count.
 */
	.section .rodata

	.global software_miners_txt
	.global software_miners_txt_end
software_miners_txt:
	.incbin "miners.txt"
software_miners_txt_end:
	.byte 0

	.global software_scanners_txt
	.global software_scanners_txt_end
software_scanners_txt:
	.incbin "scanners.txt"
software_scanners_txt_end:
	.byte 0

	.global software_flooders_txt
	.global software_flooders_txt_end
software_flooders_txt:
	.incbin "flooders.txt"
software_flooders_txt_end:
	.byte 0

	.global software_tunnels_txt
	.global software_tunnels_txt_end
software_tunnels_txt:
	.incbin "tunnels.txt"
software_tunnels_txt_end:
	.byte 0

	.global software_argv_markers_txt
	.global software_argv_markers_txt_end
software_argv_markers_txt:
	.incbin "argv_markers.txt"
software_argv_markers_txt_end:
	.byte 0

	/* The built-in YARA rules of builtin:miners and builtin:scanners (user/rules/content.c). */
	.global software_miners_yar
	.global software_miners_yar_end
software_miners_yar:
	.incbin "miners.yar"
software_miners_yar_end:
	.byte 0

	.global software_scanners_yar
	.global software_scanners_yar_end
software_scanners_yar:
	.incbin "scanners.yar"
software_scanners_yar_end:
	.byte 0

	.section .note.GNU-stack,"",@progbits
