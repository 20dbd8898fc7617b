# The charts of bench/perf, from the CSV files it writes; run by bench/perf:
#   gnuplot -e "datadir='DIR'; outdir='DIR'; has_import=1; subtitle='...'" bench/perf.gnuplot
# perf-latency.png: p50 and p99 (log) against offered load (log), Deja beside
#   the PostgreSQL full-text baseline; the p99 bars span the repeated runs.
# perf-ingest.png: postmortems stored and indexed over time during the bulk
#   import and the submit run (sampled once a second).

if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = datadir
if (!exists("has_import")) has_import = 1
if (!exists("subtitle")) subtitle = ""

set datafile separator ","
set terminal pngcairo size 1400,600 font "sans,10"
deja_color = "#1f77b4"
pg_color = "#ff7f0e"

# ---- latency against offered load -------------------------------------------------
set output outdir."/perf-latency.png"
set multiplot layout 1,2 title "Latency against offered load (open loop, Poisson), ".subtitle
set logscale xy
set grid xtics ytics mytics
set xlabel "offered load, requests/s"
set ylabel "latency, ms"
set key top left

# latency-*.csv columns: 1 offered, 3 p50, 5 p99, 9 p99_min, 10 p99_max
do for [pair in "find-similar:FindSimilar search:Search"] {
    kind = pair[1:strstrt(pair, ":") - 1]
    name = pair[strstrt(pair, ":") + 1:]
    set title name
    plot datadir."/latency-".kind.".csv" skip 1 using 1:5:9:10 with yerrorlines \
             lc rgb deja_color lw 2 pt 7 title "Deja p99", \
         "" skip 1 using 1:3 with linespoints lc rgb deja_color lw 1 dt 2 pt 6 \
             title "Deja p50", \
         datadir."/latency-pg-".kind.".csv" skip 1 using 1:5:9:10 with yerrorlines \
             lc rgb pg_color lw 2 pt 5 title "PostgreSQL FTS p99", \
         "" skip 1 using 1:3 with linespoints lc rgb pg_color lw 1 dt 2 pt 4 \
             title "PostgreSQL FTS p50"
}
unset multiplot
unset logscale

# ---- ingest ------------------------------------------------------------------------------
set output outdir."/perf-ingest.png"
set multiplot layout 1,(has_import ? 2 : 1) title "Postmortems stored and indexed over time, ".subtitle
set xlabel "seconds into the phase"
set ylabel "postmortems"
set key bottom right
set format y "%.0f"
# ingest-*.csv columns: 1 t_s, 2 stored, 3 indexed, 4 pending
if (has_import) {
    set title "bulk import (deja-corpus import --parallel 2)"
    plot datadir."/ingest-import.csv" skip 1 using 1:2 with linespoints lc rgb pg_color \
             lw 2 pt 7 ps 0.6 title "stored (PostgreSQL count)", \
         "" skip 1 using 1:3 with linespoints lc rgb deja_color lw 2 pt 5 ps 0.6 \
             title "indexed (GetIndexStatus documents)"
}
set title "submit run (SubmitPostmortem, closed loop, concurrency 8)"
plot datadir."/ingest-submit.csv" skip 1 using 1:2 with linespoints lc rgb pg_color \
         lw 2 pt 7 ps 0.6 title "stored (PostgreSQL count)", \
     "" skip 1 using 1:3 with linespoints lc rgb deja_color lw 2 pt 5 ps 0.6 \
         title "indexed (GetIndexStatus documents)"
unset multiplot
