/* SPDX-License-Identifier: GPL-2.0 */
/* The default configuration, data/default.yaml, compiled in as bytes. */
	.section .rodata
	.global default_config_yaml
	.global default_config_yaml_end
default_config_yaml:
	.incbin "default.yaml"
default_config_yaml_end:
	.byte 0
	.section .note.GNU-stack,"",@progbits
