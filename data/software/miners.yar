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
		$pool_tcp = "stratum\x2btcp://" ascii wide nocase
		$pool_ssl = "stratum\x2bssl://" ascii wide nocase
		$pool_tls = "stratum\x2btls://" ascii wide nocase
		$pool_v2 = "stratum2\x2btcp://" ascii wide nocase
		$option_donate = "donate-level\x00"
		$option_randomx_mode = "randomx-mode\x00"
		$option_randomx_pages = "randomx-1gb-pages\x00"
		$option_randomx_numa = "randomx-no-numa\x00"
		$option_randomx_wrmsr = "randomx-wrmsr\x00"
		$option_cpu_priority = "cpu-priority\x00"
		$option_threads_hint = "cpu-max-threads-hint\x00"
		$option_nicehash = "nicehash\x00"
		$option_rig_id = "rig-id\x00"
	condition:
		any of ($pool_*) and 2 of ($option_*)
}

rule miner_option_table
{
	meta:
		what = "a RandomX miner's own option table, without any pool URL"
	strings:
		$option_donate = "donate-level\x00"
		$option_randomx_mode = "randomx-mode\x00"
		$option_randomx_pages = "randomx-1gb-pages\x00"
		$option_randomx_numa = "randomx-no-numa\x00"
		$option_randomx_wrmsr = "randomx-wrmsr\x00"
		$option_randomx_init = "randomx-init\x00"
		$option_cpu_priority = "cpu-priority\x00"
		$option_threads_hint = "cpu-max-threads-hint\x00"
	condition:
		4 of them
}

rule miner_donation_host
{
	meta:
		what = "a miner's built-in donation pool host"
	strings:
		$host_v2 = "donate.v2.xmrig.com\x00"
		$host_ssl = "donate.ssl.xmrig.com\x00"
		$host_plain = "donate.xmrig.com\x00"
	condition:
		any of them
}

rule miner_msr_preparation
{
	meta:
		what = "the modprobe msr command a RandomX miner runs as root, beside a RandomX option"
	strings:
		$modprobe_msr = "modprobe\x20msr"
		$allow_writes = "allow_writes\x3don"
		$randomx_wrmsr = "randomx-wrmsr\x00"
		$randomx_mode = "randomx-mode\x00"
		$randomx_pages = "randomx-1gb-pages\x00"
	condition:
		($modprobe_msr or $allow_writes) and any of ($randomx_*)
}

rule miner_algorithm_table
{
	meta:
		what = "a table of RandomX and CryptoNight algorithm names, as a multi-algorithm miner has"
	strings:
		$rx_0 = "\x00rx/0\x00"
		$rx_wow = "\x00rx/wow\x00"
		$rx_arq = "\x00rx/arq\x00"
		$rx_sfx = "\x00rx/sfx\x00"
		$rx_graft = "\x00rx/graft\x00"
		$cn_r = "\x00cn/r\x00"
		$cn_half = "\x00cn/half\x00"
		$cn_rwz = "\x00cn/rwz\x00"
		$cn_lite = "\x00cn-lite/1\x00"
		$cn_heavy = "\x00cn-heavy/xhv\x00"
		$argon2 = "\x00argon2/chukwa\x00"
	condition:
		5 of them
}
