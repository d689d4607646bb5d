
u1cÄ ‚–"reports*u2export8