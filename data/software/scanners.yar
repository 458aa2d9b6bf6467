/*
 * Built-in YARA rules of builtin:scanners: what is inside a mass network
 * scanner's executable. Written for abusewatch; no rule text is copied.
 * Each rule needs several of the scanner's own option names or output
 * formats together. As in miners.yar, every string has a \x escape, so
 * that the text of these rules never holds the bytes they look for.
 *
 * Public sources of the facts:
 * - masscan's options (--rate, --banners, --adapter-ip, --router-mac,
 *   --excludefile, --source-port) and its output formats: masscan(8) and
 *   https://github.com/robertdavidgraham/masscan README.md;
 * - zmap's options (--probe-module, --output-module, --bandwidth,
 *   --max-targets, --cooldown-time): zmap(1) and https://zmap.io;
 * - nmap's report lines ("Nmap scan report for", "Nmap done:") and its
 *   options (--min-rate, --script-args): nmap(1) and https://nmap.org/book/.
 */

rule scanner_masscan_options
{
	meta:
		what = "masscan's option names together"
	strings:
		$banners = "banners\x00"
		$adapter_ip = "adapter-ip\x00"
		$router_mac = "router-mac\x00"
		$excludefile = "excludefile\x00"
		$source_port = "source-port\x00"
		$masscan = "masscan\x20" ascii nocase
	condition:
		$masscan and 3 of ($banners, $adapter_ip, $router_mac, $excludefile, $source_port)
}

rule scanner_zmap_options
{
	meta:
		what = "zmap's option names together"
	strings:
		$probe_module = "probe-module\x00"
		$output_module = "output-module\x00"
		$max_targets = "max-targets\x00"
		$cooldown_time = "cooldown-time\x00"
	condition:
		3 of them
}

rule scanner_nmap_report
{
	meta:
		what = "nmap's own report lines"
	strings:
		$report = "Nmap\x20scan report for"
		$done = "Nmap\x20done:"
		$min_rate = "min-rate\x00"
	condition:
		$report and $done and $min_rate
}
