package report

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;margin:0 auto;max-width:1100px;padding:1.5em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #d5d5d5;padding:.25em .6em;text-align:right}
th{background:#f1f3f6}td.l,th.l{text-align:left}
tr.primary td{font-weight:600;background:#fafbfc}
.meta{color:#555}.note{color:#666;font-size:.9em}
.skip{color:#8a5a00}
.pos{display:inline-block;width:110px;height:10px;background:linear-gradient(90deg,#f4c7a7,#b9d7f0);position:relative;vertical-align:middle;border-radius:2px}
.pos i{position:absolute;top:-3px;width:3px;height:16px;background:#222}
.figs{display:flex;flex-wrap:wrap;gap:1em}
figure.plot{margin:0;flex:1 1 480px;max-width:520px;border:1px solid #e3e3e3;padding:.4em;border-radius:4px}
figure.plot svg{width:100%;height:auto}
figcaption{font-size:.85em;color:#444}
.pass{color:#0a7a28;font-weight:600}.fail{color:#b00020;font-weight:600}
.verdict{padding:.5em .8em;border-radius:6px;border:1px solid #ccc;background:#f6f6f6}
.verdict.v-pass{border-color:#0a7a28;background:#eef8f0}.verdict.v-fail,.verdict.v-copy{border-color:#b00020;background:#fcefef}
.bad{color:#b00020;font-weight:600}tr.worse td{background:#fdf3f3}
#worst ul{margin:.2em 0 1em}
details{margin:.8em 0}summary{cursor:pointer;color:#1f5fa8}pre{background:#f6f8fa;padding:.6em;overflow:auto;font-size:.85em;max-height:40em}
.cards{display:flex;gap:1em;flex-wrap:wrap}
.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:200px}
.card b{font-size:1.4em;display:block}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="meta">{{.R.Kind}} trace: {{plural .R.RealRecords "real record"}}{{if .RealName}} ({{.RealName}}){{end}}, {{plural .R.SyntheticRecords "synthetic record"}}{{if .SyntheticName}} ({{.SyntheticName}}){{end}}.</p>
{{with .Verdict}}<p id="verdict" class="verdict v-{{.Status}}"><b>Verdict: {{.Status}}.</b> {{reason .}}. <a href="#targets">Targets</a></p>{{end}}
{{if .Worst}}<div id="worst"><p><b>Furthest from the floor:</b></p><ul>
{{range .Worst}}<li><span class="bad">{{.Group}} {{.Name}}</span>: {{f .Synthetic}} against a bootstrap floor of {{f .Bootstrap}} ({{ratio .Ratio}} the floor; marginal sampler {{f .Marginal}})</li>
{{end}}</ul></div>{{end}}

<div class="cards" id="summary">
{{range .Rows}}{{if .Primary}}<div class="card">{{.Name}}<b>{{f .Synthetic}}</b>{{if .HasBaselines}}<span class="note">bootstrap floor {{f .Bootstrap}} · marginal sampler {{f .Marginal}}</span>{{end}}</div>{{end}}{{end}}
</div>

<h2 id="fidelity">Fidelity metrics</h2>
<p class="note">JSD: Jensen–Shannon divergence (natural log, 0 to ln 2; IP addresses by popularity rank). EMD: 1-D Wasserstein distance in the field's unit (seconds for ts and td); normalised EMD after log1p (except ts) and scaling by the real range. Joint TVD: total variation distance of 2-way histograms. Lower is better everywhere.
{{if .R.Baselines}} The references are drawn from the real trace: a <em>bootstrap resample</em> (a perfect copy: the sampling-noise floor) and an <em>independent-marginal sampler</em> (every field drawn on its own). "Position" says where the synthetic trace lies from the marginal sampler (0%) to the bootstrap floor (100%); it is shown only where the two references differ clearly. Where they are alike (the marginal metrics, which the marginal sampler matches by construction), the synthetic value is compared with the floor alone, and marked when it is at least twice the floor.{{if .R.Baselines.SplitHalf}} The <em>split half</em> compares two halves of the real trace that share no flow (each 5-tuple's records in one half): what a sample of the same traffic scores without copying any of it, at half the size. A private generator cannot be expected to beat it by much on fields where most values belong to one flow alone (one-off ports, say).{{end}}{{end}}</p>
{{if .AboveFloor}}<p class="note" id="above-floor">Positions above 100% put the synthetic trace closer to the real one than a resample of the real trace. That is not better than perfect: the generated values are calibrated to the real trace's quantiles, which pins their marginals to the real ones without the sampling noise a resample carries. On joint metrics it can also be a sign of copying: see the memorisation audit.</p>{{end}}
<table id="metrics">
<thead><tr><th class="l">group</th><th class="l">metric</th><th class="l">unit</th><th>synthetic</th>{{if .R.Baselines}}<th>bootstrap (floor)</th><th>marginal sampler</th>{{if .R.Baselines.SplitHalf}}<th>split half (no copy)</th>{{end}}<th class="l">position</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr{{if .Primary}} class="primary"{{else if .Worse}} class="worse"{{end}}><td class="l">{{.Group}}</td><td class="l">{{.Name}}</td><td class="l">{{.Unit}}</td><td>{{f .Synthetic}}</td>{{if .HasBaselines}}<td>{{f .Bootstrap}}</td><td>{{f .Marginal}}</td>{{if .HasSplitHalf}}<td>{{f .SplitHalf}}</td>{{end}}<td class="l">{{if .PositionKnown}}<span class="pos"><i style="left:{{barpct .Position}}%"></i></span> {{pos .Position}}{{else if .Worse}}<span class="bad">{{ratio .Ratio}} the floor</span>{{else}}<span class="note">references alike{{if .Ratio}} ({{ratio .Ratio}} the floor){{end}}</span>{{end}}</td>{{end}}</tr>
{{end}}</tbody>
</table>

<h2 id="joint">Joint fidelity</h2>
<table id="joint-table">
<thead><tr><th class="l">2-way histogram</th><th>synthetic TVD</th>{{if .R.Baselines}}<th>bootstrap</th><th>marginal sampler</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}{{if eq .Group "joint TVD"}}<tr><td class="l">{{.Name}}</td><td>{{f .Synthetic}}</td>{{if .HasBaselines}}<td>{{f .Bootstrap}}</td><td>{{f .Marginal}}</td>{{end}}</tr>{{end}}{{end}}
{{range .Rows}}{{if eq .Group "joint TVD, not in the mean"}}<tr><td class="l">{{.Name}} (not in the mean)</td><td>{{f .Synthetic}}</td>{{if .HasBaselines}}<td>{{f .Bootstrap}}</td><td>{{f .Marginal}}</td>{{end}}</tr>{{end}}{{end}}
</tbody>
</table>
<p class="note">Ports and protocol are binned by value, other fields by ⌊log2(1+x)⌋ (duration in milliseconds). A sampler that draws each field independently matches every marginal but not these. Pairs marked "not in the mean" are ones no generation pass calibrates (docs/metrics.md).</p>

{{if .Addresses}}
<h2 id="addresses">Addresses</h2>
<p class="note">Distinct source and destination IP addresses, and the share of flows, packets and bytes held by the k busiest addresses (ranked by that same measure){{if eq .R.Kind "packets"}}; a flow is a 5-tuple{{end}}. Ratio: synthetic over real.</p>
<table id="address-table"><thead><tr><th class="l">statistic</th><th>real</th><th>synthetic</th><th>ratio</th></tr></thead><tbody>
{{range .Addresses}}<tr{{if .Count}} class="primary"{{end}}><td class="l">{{.Name}}</td><td>{{.Real}}</td><td>{{.Synthetic}}</td><td>{{if .Ratio}}{{printf "%.2f" .Ratio}}{{else}}–{{end}}</td></tr>
{{end}}</tbody></table>
{{end}}

<h2 id="plots">Distributions</h2>
<div class="figs">
{{range .Figures}}<figure class="plot" id="fig-{{.Name}}">{{.SVG}}<figcaption>{{.Caption}} <a href="plots/{{.Name}}.png">PNG</a></figcaption></figure>
{{else}}<p class="note">No distribution summaries in this result.</p>{{end}}
</div>

{{with .R.Downstream}}
<h2 id="downstream">Downstream tasks</h2>
{{with $.R.Subsample.Note "downstream"}}<p class="note" id="downstream-subsample">Subsample: {{.}}.</p>{{end}}
{{with .TrafficType}}<h3>Traffic-type prediction</h3>
{{if .Skipped}}<p class="skip">Skipped: {{.Skipped}}</p>{{else}}
<p class="note">Accuracy on {{plural .Test "held-out real record"}} (classes: {{range $i, $c := .Classes}}{{if $i}}, {{end}}{{$c}}{{end}}), training on {{plural .TrainReal "real record"}} or {{plural .TrainSynthetic "synthetic record"}}.</p>
<table id="traffic-type"><thead><tr><th class="l">classifier</th><th>trained on real</th><th>trained on synthetic</th></tr></thead><tbody>
{{range .Models}}<tr><td class="l">{{.Name}}</td><td>{{f3 .Real}}</td><td>{{f3 .Synthetic}}</td></tr>{{end}}
{{with .Majority}}<tr><td class="l note">{{.Name}} (reference)</td><td>{{f3 .Real}}</td><td>{{f3 .Synthetic}}</td></tr>{{end}}
</tbody></table>
<p>Spearman rank correlation of the classifiers' order: <b>{{rho .Spearman}}</b>{{if .SpearmanNote}} <span class="note">({{.SpearmanNote}})</span>{{end}}{{with .MeanGap}}; mean |real − synthetic| accuracy: <b>{{f3 .}}</b>{{end}}</p>{{end}}
{{range .Notes}}<p class="note">Note: {{.}}</p>{{end}}{{end}}
{{with .Telemetry}}<h3>Heavy hitters with a Count-Min Sketch</h3>
{{if .Skipped}}<p class="skip">Skipped: {{.Skipped}}</p>{{else}}
<p class="note">Mean relative error of the sketch's count estimates for the true top {{pct .TopFraction}} of keys; depth {{.Depth}}, width as a fraction of the number of distinct keys. Bootstrap: the error on a resample of the real trace, what a perfect copy scores.</p>
<table id="telemetry"><thead><tr><th class="l">task</th><th>width / keys</th><th>real</th><th>synthetic</th><th>bootstrap</th></tr></thead><tbody>
{{range .Tasks}}{{$t := .}}{{if .Skipped}}<tr><td class="l">{{.Name}}</td><td colspan="4" class="l skip">skipped: {{.Skipped}}</td></tr>{{end}}{{range .Widths}}<tr><td class="l">{{$t.Name}}</td><td>{{.Fraction}}</td><td>{{f .Real}}</td><td>{{f .Synthetic}}</td><td>{{with .Bootstrap}}{{f .}}{{else}}—{{end}}</td></tr>{{end}}{{end}}
</tbody></table>{{end}}{{end}}
{{with .Anomaly}}<h3>Anomaly detection</h3>
{{if .Skipped}}<p class="skip">Skipped: {{.Skipped}}</p>{{else}}
<p class="note">AUC on {{plural .Test "held-out labelled real record"}} ({{.TestAnomalous}} anomalous), detectors fitted on {{plural .FitReal "normal real record"}} or {{plural .FitSynthetic "normal synthetic record"}}.</p>
<table id="anomaly"><thead><tr><th class="l">detector</th><th>fitted on real</th><th>fitted on synthetic</th></tr></thead><tbody>
{{range .Detectors}}<tr><td class="l">{{.Name}}</td><td>{{f3 .Real}}</td><td>{{f3 .Synthetic}}</td></tr>{{end}}
</tbody></table>
<p>Spearman rank correlation of the detectors' order: <b>{{rho .Spearman}}</b>{{if .SpearmanNote}} <span class="note">({{.SpearmanNote}})</span>{{end}}{{with .MeanGap}}; mean |real − synthetic| AUC: <b>{{f3 .}}</b>{{end}}</p>{{end}}
{{range .Notes}}<p class="note">Note: {{.}}</p>{{end}}{{end}}
{{end}}

{{if .R.Targets}}
<h2 id="targets">Targets</h2>
<p class="note">Goals a useful synthetic trace should meet: faithful (joint fidelity well beyond the independent-marginal sampler) and not a copy of its training data. Shown for information; the tool does not fail on them.</p>
<table id="targets-table"><thead><tr><th class="l">target</th><th>value</th><th>limit</th><th class="l">result</th></tr></thead><tbody>
{{range .R.Targets}}<tr><td class="l">{{.Description}}</td><td>{{with .Value}}{{f .}}{{else}}–{{end}}</td><td>{{with .Limit}}{{f .}}{{else}}–{{end}}</td><td class="l">{{if .Pass}}{{if deref .Pass}}<span class="pass">✔ pass</span>{{else}}<span class="fail">✘ fail</span>{{end}}{{else}}<span class="note">not judged: {{.Reason}}</span>{{end}}</td></tr>
{{end}}</tbody></table>
{{end}}

{{with .R.Protocol}}{{$pk := eq .Kind "packets"}}
<h2 id="protocol">Protocol validity</h2>
<p class="note">Share of {{if $pk}}flows (5-tuples) and packets{{else}}flow records{{end}} that obey each protocol rule, for the real and the synthetic trace; {{if $pk}}a flow passes a check when all its packets do, and {{end}}a rule that does not apply to a record counts as passed. Anonymised real traces may fail the address checks.</p>
<table id="protocol-table"><thead><tr><th class="l">check</th><th class="l">rule</th><th>real{{if $pk}} flows{{end}}</th><th>synthetic{{if $pk}} flows{{end}}</th>{{if $pk}}<th>real packets</th><th>synthetic packets</th>{{end}}</tr></thead><tbody>
{{range .Checks}}<tr><td class="l">{{.Name}}</td><td class="l">{{.Description}}</td><td>{{share .Real.Flows}}</td><td>{{share .Synthetic.Flows}}</td>{{if $pk}}<td>{{with .Real.Packets}}{{share .}}{{end}}</td><td>{{with .Synthetic.Packets}}{{share .}}{{end}}</td>{{end}}</tr>
{{end}}{{with .All}}<tr class="primary"><td class="l">all</td><td class="l">every check</td><td>{{share .Real.Flows}}</td><td>{{share .Synthetic.Flows}}</td>{{if $pk}}<td>{{with .Real.Packets}}{{share .}}{{end}}</td><td>{{with .Synthetic.Packets}}{{share .}}{{end}}</td>{{end}}</tr>{{end}}
</tbody></table>
<p id="protocol-target">{{if .Pass}}<span class="pass">✔ pass</span>{{else}}<span class="fail">✘ fail</span>{{end}} synthetic {{if $pk}}flows{{else}}records{{end}} passing every check: at least the real share minus 1 point.</p>
{{with .Handshakes}}<p class="note">TCP handshakes across the two directions of a connection (reported, not judged): connections opened by a SYN, those answered by a SYN-ACK before the opener's next segment, those answered after it, and SYN-ACKs that answer no SYN.</p>
<table id="handshake-table"><thead><tr><th class="l">trace</th><th>opened</th><th>answered</th><th>answered late</th><th>replies to no SYN</th></tr></thead><tbody>
<tr><td class="l">real</td><td>{{.Real.Opened}}</td><td>{{.Real.Answered}}</td><td>{{.Real.Late}}</td><td>{{.Real.Unopened}}</td></tr>
<tr><td class="l">synthetic</td><td>{{.Synthetic.Opened}}</td><td>{{.Synthetic.Answered}}</td><td>{{.Synthetic.Late}}</td><td>{{.Synthetic.Unopened}}</td></tr>
</tbody></table>{{end}}
{{end}}

{{with .R.PrivacyAudit}}
<h2 id="audit">Memorisation audit</h2>
{{with $.R.Subsample.Note "audit"}}<p class="note" id="audit-subsample">Subsample: {{.}}.</p>{{end}}
<p class="note">Does the synthetic trace copy the real records the generator was trained on? Unit compared: {{.Unit}}{{if eq .Unit "flows"}} (5-tuple and the whole sequence of packet lengths){{else}} (5-tuple, packets, bytes and duration in ms){{end}}.</p>
<table id="audit-table"><tbody>
{{with .ExactCopy}}<tr><td class="l">synthetic {{$.R.PrivacyAudit.Unit}} identical to a training one</td><td>{{.SyntheticCopy}} of {{.Synthetic}} ({{pct .Rate}})</td></tr>
{{with .HoldoutRate}}<tr><td class="l">held-out real {{$.R.PrivacyAudit.Unit}} identical to a training one</td><td>{{pct .}}</td></tr>{{end}}
{{with .BootstrapRate}}<tr><td class="l">reference: bootstrap resample</td><td>{{pct .}}</td></tr>{{end}}
{{with .MarginalRate}}<tr><td class="l">reference: independent-marginal sampler</td><td>{{pct .}}</td></tr>{{end}}{{end}}
{{with .DCR}}<tr><td class="l">distance to closest training record, synthetic: median (5th percentile)</td><td>{{f .SyntheticMedian}} ({{f .SyntheticP5}})</td></tr>
<tr><td class="l">distance to closest training record, held-out real: median (5th percentile)</td><td>{{f .HoldoutMedian}} ({{f .HoldoutP5}})</td></tr>{{end}}
{{with .Membership}}<tr><td class="l">membership-inference AUC ({{plural .Members "training record"}} vs {{plural .NonMembers "held-out record"}}; 0.5 = no signal)</td><td>{{f3 .AUC}}</td></tr>{{end}}
</tbody></table>
{{range .NotComputed}}<p class="note">Not computed: {{.}}</p>{{end}}
{{end}}

{{if .Selection}}
<h2 id="selection">Checkpoint selection</h2>
<p class="note">Each chunk's training checkpoints were scored on a validation slice of its flows held out of training: a sample is generated at the checkpoint, decoded (without the post-generation passes) and compared with the decoded slice. Score: the mean of the mean joint TVD and the mean JSD (lower is better). Generation used the best-scoring checkpoint; training resumes from the last.</p>
<table id="selection-table"><thead><tr><th>chunk</th><th>validation flows</th><th>generated flows</th><th>checkpoints</th><th>chosen iteration</th><th>chosen score</th><th>last iteration</th><th>last score</th><th>time per score</th></tr></thead><tbody>
{{range .Selection}}<tr><td>{{.Chunk}}</td><td>{{.ValidationFlows}}</td><td>{{.GeneratedFlows}}</td><td>{{.Checkpoints}}</td><td>{{.Chosen.Iteration}}</td><td>{{f .Chosen.Score}}</td><td>{{.Last.Iteration}}</td><td>{{f .Last.Score}}</td><td>{{dur .Seconds}}</td></tr>
{{end}}</tbody></table>
<div class="figs" id="selection-figs">
{{range .SelectionFigures}}<figure class="plot" id="fig-{{.Name}}">{{.SVG}}<figcaption>{{.Caption}} <a href="plots/{{.Name}}.png">PNG</a></figcaption></figure>
{{end}}</div>
{{end}}

{{with .R.Notes}}<h2 id="notes">Notes</h2>{{range .}}<p class="note">{{.}}</p>{{end}}{{end}}

{{with .R.Privacy}}
<h2 id="privacy">Differential privacy</h2>
<table id="privacy-table"><tbody>
<tr><td class="l">ε</td><td>{{f .Epsilon}}</td></tr>
<tr><td class="l">δ</td><td>{{f .Delta}}</td></tr>
<tr><td class="l">noise multiplier σ</td><td>{{f .Noise}}</td></tr>
<tr><td class="l">clipping norm C</td><td>{{f .Clip}}</td></tr>
<tr><td class="l">discriminator steps</td><td>{{.Steps}}</td></tr>
{{with .Target}}<tr><td class="l">target ε</td><td>{{f .}}</td></tr>{{end}}
{{with .Unit}}<tr><td class="l">unit of privacy</td><td class="l">{{.}}</td></tr>{{end}}
{{with .StatsShare}}<tr><td class="l">share of ε the DP statistics were calibrated to</td><td>{{f .}}</td></tr>{{end}}
</tbody></table>
{{if .Mechanisms}}<h3>Mechanisms composed into ε</h3>
<table id="privacy-mechanisms"><thead><tr><th class="l">mechanism</th><th>noise multiplier</th><th>releases</th><th>ε alone</th><th>share of the Rényi divergence at the optimal order</th></tr></thead><tbody>
{{range .Mechanisms}}<tr><td class="l">{{.Name}}</td><td>{{f .Noise}}</td><td>{{.Releases}}</td><td>{{f .Epsilon}}</td><td>{{f .Share}}</td></tr>
{{end}}</tbody></table>{{end}}
{{if .Public}}<h3>Taken from public knowledge or public data</h3><ul>{{range .Public}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{end}}

{{with .Run}}
<h2 id="run">Run</h2>
<table id="run-table"><tbody>
<tr><td class="l">netshare version</td><td class="l">{{.Version}}</td></tr>
<tr><td class="l">preset</td><td class="l">{{.PresetText}}</td></tr>
<tr><td class="l">seed</td><td class="l">{{.Seed}}</td></tr>
<tr><td class="l">real records held out of training</td><td class="l">{{if .Audit}}yes (20%, for the memorisation audit){{else}}no{{end}}</td></tr>
</tbody></table>
{{if .Chunks}}<h3>Training per chunk</h3>
<table id="chunks-table"><thead><tr><th>chunk</th><th>iterations</th><th class="l">started from</th><th>training time</th></tr></thead><tbody>
{{range .Chunks}}<tr><td>{{.Chunk}}</td><td>{{.Iterations}}</td><td class="l">{{if .InitFrom}}{{.InitFrom}}{{else}}scratch{{end}}</td><td>{{if .Seconds}}{{dur .Seconds}}{{else}}–{{end}}</td></tr>
{{end}}</tbody></table>{{end}}
{{if .Stages}}<h3>Wall time and memory per stage</h3>
<table id="stages-table"><thead><tr><th class="l">stage</th><th>wall time</th><th>peak memory</th><th>records</th><th>memory per record</th><th class="l">finished</th></tr></thead><tbody>
{{range .Stages}}<tr><td class="l">{{.Name}}</td><td>{{dur .Seconds}}</td><td>{{.Memory}}</td><td>{{if .Records}}{{.Records}}{{else}}–{{end}}</td><td>{{.PerRecord}}</td><td class="l">{{if not .Finished.IsZero}}{{date .Finished}}{{else}}running (this report){{end}}</td></tr>
{{end}}</tbody></table>
<p class="note">Chunks fine-tuned from chunk 0 train in parallel: their stage's wall time is that of the slowest, its records those of all. Peak memory is the peak resident memory of the process that ran the stage, from its start to the stage's end: a stage run after others in one process shows at least their peaks.</p>{{end}}
{{if $.RunFigures}}<h3>Loss curves</h3>
<div class="figs" id="loss-figs">
{{range $.RunFigures}}<figure class="plot" id="fig-{{.Name}}">{{.SVG}}<figcaption>{{.Caption}} <a href="plots/{{.Name}}.png">PNG</a></figcaption></figure>
{{end}}</div>{{else}}<p class="note">No loss log was kept for this run's models.</p>{{end}}
<details id="config"><summary>Effective configuration (config.yaml)</summary>
<pre>{{yaml .Config}}</pre>
</details>
{{end}}

<p class="note" id="footer">Generated by netshare. Definitions: docs/metrics.md. The raw figures are in metrics.json beside this page.</p>
</body>
</html>
`
