using System.Globalization;
using System.Net;
using System.Text;
using RelationAdapter.Core.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Processing;

namespace RelationAdapter.Eval.Reporting;

/// <summary>
/// One self-contained page (every picture an &lt;img&gt; with a data URI, the sorting script inline): the summary
/// tables, then per sample A, A′, B, the target and each run's prediction with its metrics, worst first by the
/// first run's MSE; any run's metric re-sorts the rows (worst first, a second click best first).
/// </summary>
public static class HtmlReport
{
    const int ThumbnailSide = 160;

    public static string Render(Results results, IReadOnlyList<Table> tables)
    {
        var html = new StringBuilder();
        html.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Evaluation report</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
            table{border-collapse:collapse;margin-bottom:1.5em}
            th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top;font-size:13px}
            th{background:#f3f3f3}
            td.num{text-align:right;font-variant-numeric:tabular-nums}
            img{display:block;max-width:160px;max-height:160px}
            button.sort{font-size:12px;margin:1px;cursor:pointer}
            button.sort.active{background:#333;color:#fff}
            dl{margin:4px 0 0;display:grid;grid-template-columns:auto auto;gap:0 6px;font-size:12px}
            dt{color:#666}dd{margin:0;text-align:right}
            p.warning{background:#fff3cd;border:1px solid #e0c36c;padding:6px 8px}
            </style></head><body>
            <h1>Evaluation report</h1>
            """);
        html.Append($"<p>Runs: {string.Join(", ", results.Runs.Select(r => $"<code>{E(r)}</code>"))}. Cells are mean ± std over tasks; Δ is the difference of the mean to the first run.</p>\n");
        foreach (var warning in results.Warnings) html.Append($"<p class=\"warning\"><strong>Warning:</strong> {E(warning)}</p>\n");
        foreach (var table in tables)
        {
            html.Append($"<h2>{E(table.Title)}</h2>\n");
            if (table.Note is not null) html.Append($"<p>{E(table.Note)}</p>\n");
            if (table.Header.Count == 0) continue;
            html.Append("<table class=\"summary\"><thead><tr>").AppendJoin("", table.Header.Select(h => $"<th>{E(h)}</th>")).Append("</tr></thead><tbody>\n");
            foreach (var row in table.Rows)
                html.Append("<tr>").AppendJoin("", row.Select((c, i) => i >= 2 ? $"<td class=\"num\">{E(c)}</td>" : $"<td>{E(c)}</td>")).Append("</tr>\n");
            html.Append("</tbody></table>\n");
        }
        AppendSamples(html, results);
        html.Append(Script);
        html.Append("</body></html>\n");
        return html.ToString();
    }

    static void AppendSamples(StringBuilder html, Results results)
    {
        var byId = results.Rows.GroupBy(r => r.Sample.Id).Select(g => (Sample: g.First().Sample, Runs: results.Runs.Select(run => g.FirstOrDefault(r => r.Run == run)).ToList()))
            .OrderByDescending(s => s.Runs[0]?.Mse ?? double.NegativeInfinity).ToList();
        html.Append("<h2>Samples</h2>\n<p>Sort by a run's metric: worst first, click again for best first.</p>\n");
        html.Append("<table id=\"samples\"><thead><tr><th>sample</th><th>A</th><th>A′</th><th>B</th><th>target B′</th>");
        for (var i = 0; i < results.Runs.Count; i++)
        {
            html.Append($"<th>{E(results.Runs[i])}<br>");
            foreach (var metric in Metrics.All)
            {
                var key = $"r{i}-{Metrics.CsvName(metric)}";
                var active = i == 0 && metric == Metric.Mse ? " active" : "";
                html.Append($"<button class=\"sort{active}\" data-key=\"{key}\" data-lower-better=\"{(Metrics.LowerIsBetter(metric) ? 1 : 0)}\">{E(Metrics.Label(metric))}</button>");
            }
            html.Append("</th>");
        }
        html.Append("</tr></thead><tbody>\n");
        foreach (var (sample, runs) in byId)
        {
            html.Append($"<tr data-id=\"{E(sample.Id)}\"");
            for (var i = 0; i < runs.Count; i++)
                foreach (var metric in Metrics.All)
                    if (runs[i]?.Value(metric) is { } value)
                        html.Append($" data-r{i}-{Metrics.CsvName(metric)}=\"{value.ToString("R", CultureInfo.InvariantCulture)}\"");
            html.Append($"><td><b>{E(sample.Id)}</b><br>{E(sample.Task ?? "")}<br>{E(sample.Category ?? "")}<br>{E(sample.Split ?? "")}<br><i>{E(sample.Text)}</i></td>");
            foreach (var image in new[] { sample.PromptImage, sample.ReferenceImage, sample.Source, sample.Target })
                html.Append($"<td>{Img(image)}</td>");
            foreach (var row in runs)
            {
                html.Append("<td>").Append(row?.Prediction is { } prediction ? Img(prediction) : "<i>no prediction</i>").Append("<dl>");
                foreach (var metric in Metrics.All)
                    html.Append($"<dt>{E(Metrics.Label(metric))}</dt><dd class=\"{Metrics.CsvName(metric)}\">{(row?.Value(metric) is { } v ? Metrics.Format(v) : "–")}</dd>");
                html.Append("</dl></td>");
            }
            html.Append("</tr>\n");
        }
        html.Append("</tbody></table>\n");
    }

    static string Img(string path)
    {
        try
        {
            using var image = ImageCodec.Decode(File.ReadAllBytes(path));
            var scale = Math.Min(1.0, (double)ThumbnailSide / Math.Max(image.Width, image.Height));
            if (scale < 1) image.Mutate(x => x.Resize(Math.Max(1, (int)(image.Width * scale)), Math.Max(1, (int)(image.Height * scale))));
            using var buffer = new MemoryStream();
            image.Save(buffer, new JpegEncoder { Quality = 85 });
            return $"<img alt=\"{E(Path.GetFileName(path))}\" src=\"data:image/jpeg;base64,{Convert.ToBase64String(buffer.ToArray())}\">";
        }
        catch (Exception e) when (e is IOException or ImageFormatException or NotSupportedException)
        {
            return $"<i>unreadable: {E(Path.GetFileName(path))}</i>";
        }
    }

    static string E(string text) => WebUtility.HtmlEncode(text);

    const string Script = """
        <script>
        (() => {
          const table = document.getElementById('samples');
          const body = table.tBodies[0];
          let current = { key: 'r0-mse', worstFirst: true };
          function sort(key, lowerBetter, worstFirst) {
            const attribute = 'data-' + key;
            const rows = Array.from(body.rows);
            rows.sort((a, b) => {
              const x = a.getAttribute(attribute), y = b.getAttribute(attribute);
              if (x === null || y === null) return (x === null) - (y === null);
              const d = parseFloat(x) - parseFloat(y);
              return (lowerBetter === worstFirst) ? -d : d;
            });
            rows.forEach(r => body.appendChild(r));
            table.querySelectorAll('button.sort').forEach(b => b.classList.toggle('active', b.dataset.key === key));
            current = { key, worstFirst };
          }
          table.querySelectorAll('button.sort').forEach(button => button.addEventListener('click', () => {
            const key = button.dataset.key;
            const worstFirst = current.key === key ? !current.worstFirst : true;
            sort(key, button.dataset.lowerBetter === '1', worstFirst);
          }));
        })();
        </script>
        """;
}
