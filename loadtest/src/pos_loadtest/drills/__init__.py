"""Drills: terminals keep selling while something fails (a master-data restart or outage, a
database kill) or grows (large open carts), and every failed call is counted."""
