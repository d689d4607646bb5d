
t1cÄ ‚–"T-1(0:billingX