/*
 * Built-in YARA rules of builtin:scanners: what is inside a mass network
 * scanner's executable. Written for abusewatch; no rule text is copied.
 * Each rule needs several of the scanner's own option names or output
 * formats together.
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
		$banners = "banners" ascii fullword
		$adapter_ip = "adapter-ip" ascii
		$router_mac = "router-mac" ascii
		$excludefile = "excludefile" ascii
		$source_port = "source-port" ascii
		$masscan = "masscan" ascii nocase
	condition:
		$masscan and 4 of ($banners, $adapter_ip, $router_mac, $excludefile, $source_port)
}

rule scanner_zmap_options
{
	meta:
		what = "zmap's option names together"
	strings:
		$probe_module = "probe-module" ascii
		$output_module = "output-module" ascii
		$max_targets = "max-targets" ascii
		$cooldown_time = "cooldown-time" ascii
		$zmap = "zmap" ascii nocase fullword
	condition:
		$zmap and 3 of ($probe_module, $output_module, $max_targets, $cooldown_time)
}

rule scanner_nmap_report
{
	meta:
		what = "nmap's own report lines"
	strings:
		$report = "Nmap scan report for" ascii
		$done = "Nmap done:" ascii
		$min_rate = "min-rate" ascii
	condition:
		$report and $done and $min_rate
}
