/*
 * Built-in YARA rules of builtin:miners: what is inside a cryptocurrency
 * miner's executable, whatever its file is called. Written for abusewatch;
 * no rule text is copied from elsewhere. Each rule needs two independent
 * facts, so that a program that merely mentions mining (a browser, a
 * compiler's string table, a package manager) does not match.
 *
 * Public sources of the facts:
 * - the Stratum mining protocol's URL schemes (stratum+tcp://,
 *   stratum+ssl://, stratum+tls://, stratum2+tcp://): the Stratum V1 and V2
 *   specifications (https://stratumprotocol.org, "Stratum V2 spec") and the
 *   pool setup pages of xmrig, cpuminer and NiceHash;
 * - XMRig's command-line options (--donate-level, --randomx-mode,
 *   --randomx-1gb-pages, --randomx-no-numa, --randomx-wrmsr, --cpu-priority,
 *   --cpu-max-threads-hint, --nicehash, --rig-id, --coin, --keepalive):
 *   https://xmrig.com/docs/miner/command-line-options and the option table
 *   in xmrig's src/base/kernel/config/BaseConfig.cpp and
 *   src/core/config/Config_platform.h;
 * - its donation pool hosts (donate.v2.xmrig.com, donate.ssl.xmrig.com,
 *   donate.xmrig.com) in src/net/strategies/DonateStrategy.cpp;
 * - the MSR preparation it runs as root ("modprobe msr" with
 *   allow_writes=on): src/hw/msr/Msr_linux.cpp and
 *   https://xmrig.com/docs/miner/randomx-optimization-guide/msr;
 * - RandomX and CryptoNight algorithm names (rx/0, rx/wow, rx/arq, rx/sfx,
 *   cn/r, cn/half, cn/rwz, cn-lite/1, cn-heavy/xhv, argon2/chukwa):
 *   https://xmrig.com/docs/algorithms; cpuminer-opt's algorithm table
 *   (README.md of JayDDee/cpuminer-opt: yespower, yescryptr16, lyra2z330,
 *   x16r, allium) and its -a/--algo option.
 */

rule miner_pool_url_and_options
{
	meta:
		what = "a Stratum pool URL scheme beside a miner's option names"
	strings:
		$pool_tcp = "stratum+tcp://" ascii wide nocase
		$pool_ssl = "stratum+ssl://" ascii wide nocase
		$pool_tls = "stratum+tls://" ascii wide nocase
		$pool_v2 = "stratum2+tcp://" ascii wide nocase
		$option_donate = "donate-level" ascii wide
		$option_randomx_mode = "randomx-mode" ascii wide
		$option_randomx_pages = "randomx-1gb-pages" ascii wide
		$option_randomx_numa = "randomx-no-numa" ascii wide
		$option_randomx_wrmsr = "randomx-wrmsr" ascii wide
		$option_cpu_priority = "cpu-priority" ascii wide
		$option_threads_hint = "cpu-max-threads-hint" ascii wide
		$option_nicehash = "nicehash" ascii wide
		$option_rig_id = "rig-id" ascii wide
	condition:
		any of ($pool_*) and 2 of ($option_*)
}

rule miner_option_table
{
	meta:
		what = "a RandomX miner's own option table, without any pool URL"
	strings:
		$option_donate = "donate-level" ascii wide
		$option_randomx_mode = "randomx-mode" ascii wide
		$option_randomx_pages = "randomx-1gb-pages" ascii wide
		$option_randomx_numa = "randomx-no-numa" ascii wide
		$option_randomx_wrmsr = "randomx-wrmsr" ascii wide
		$option_randomx_init = "randomx-init" ascii wide
		$option_cpu_priority = "cpu-priority" ascii wide
		$option_threads_hint = "cpu-max-threads-hint" ascii wide
	condition:
		4 of them
}

rule miner_donation_host
{
	meta:
		what = "a miner's built-in donation pool host"
	strings:
		$host_v2 = "donate.v2.xmrig.com" ascii wide nocase
		$host_ssl = "donate.ssl.xmrig.com" ascii wide nocase
		$host_plain = "donate.xmrig.com" ascii wide nocase
	condition:
		any of them
}

rule miner_msr_preparation
{
	meta:
		what = "the modprobe msr command a RandomX miner runs as root, beside a pool scheme or RandomX option"
	strings:
		$modprobe_msr = "modprobe msr" ascii wide
		$allow_writes = "allow_writes=on" ascii wide
		$pool_tcp = "stratum+tcp://" ascii wide nocase
		$pool_ssl = "stratum+ssl://" ascii wide nocase
		$randomx_wrmsr = "randomx-wrmsr" ascii wide
		$randomx_mode = "randomx-mode" ascii wide
	condition:
		($modprobe_msr or $allow_writes) and any of ($pool_tcp, $pool_ssl, $randomx_wrmsr, $randomx_mode)
}

rule miner_algorithm_table
{
	meta:
		what = "a table of RandomX and CryptoNight algorithm names, as a multi-algorithm miner has"
	strings:
		$rx_0 = "rx/0" ascii wide fullword
		$rx_wow = "rx/wow" ascii wide fullword
		$rx_arq = "rx/arq" ascii wide fullword
		$rx_sfx = "rx/sfx" ascii wide fullword
		$rx_graft = "rx/graft" ascii wide fullword
		$cn_r = "cn/r" ascii wide fullword
		$cn_half = "cn/half" ascii wide fullword
		$cn_rwz = "cn/rwz" ascii wide fullword
		$cn_lite = "cn-lite/1" ascii wide fullword
		$cn_heavy = "cn-heavy/xhv" ascii wide fullword
		$argon2 = "argon2/chukwa" ascii wide fullword
	condition:
		5 of them
}
