/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The built-in network data, the .txt files of data/network/, compiled in as bytes.
 * Each file is followed by a NUL that its end symbol does not count.
 */
	.section .rodata

	.global network_stratum_markers_txt
	.global network_stratum_markers_txt_end
network_stratum_markers_txt:
	.incbin "stratum_markers.txt"
network_stratum_markers_txt_end:
	.byte 0

	.global network_pool_domains_txt
	.global network_pool_domains_txt_end
network_pool_domains_txt:
	.incbin "pool_domains.txt"
network_pool_domains_txt_end:
	.byte 0

	.section .note.GNU-stack,"",@progbits
