//! End-to-end cases: Docker `--format` strings against image-inspect style
//! data, each with the exact output (or error text) Docker gives.

use serde_json::json;

use crate::{split_table, Template, TemplateError, Value};

const MAP_PATHS: &[&str] = &["Config.ExposedPorts", "Config.Labels", "GraphDriver.Data"];

fn image() -> Value {
    let doc = json!({
        "Id": "sha256:a8758716bb6aa4d90071160d27028fe4eaee7ce8166221a97d30440c8eac2be6",
        "RepoTags": ["nginx:latest", "nginx:1.25"],
        "Created": "2023-11-01T01:27:21.012345678Z",
        "Os": "linux",
        "Architecture": "amd64",
        "Size": 187000000,
        "Config": {
            "ExposedPorts": {"80/tcp": {}},
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin", "NGINX_VERSION=1.25.3"],
            "Cmd": ["nginx", "-g", "daemon off;"],
            "Labels": {"maintainer": "NGINX Docker Maintainers <docker-maint@nginx.com>"},
            "StopSignal": "SIGQUIT",
            "Entrypoint": null
        },
        "GraphDriver": {"Name": "overlay2", "Data": {"MergedDir": "/m", "UpperDir": "/u"}},
        "RootFS": {"Type": "layers", "Layers": ["sha256:1", "sha256:2", "sha256:3", "sha256:4", "sha256:5", "sha256:6", "sha256:7"]}
    });
    Value::from_json(&doc, MAP_PATHS)
}

fn run(src: &str, data: &Value) -> Result<String, TemplateError> {
    Template::parse(src)?.execute(data)
}

#[test]
fn docker_formats() {
    let data = image();
    let cases: &[(&str, &str)] = &[
        ("{{.Size}}", "187000000"),
        ("{{len .RootFS.Layers}}", "7"),
        ("{{.Config.ExposedPorts}}", "map[80/tcp:{}]"),
        ("{{json .Config.Env}}", "[\"PATH=/usr/local/sbin:/usr/local/bin\",\"NGINX_VERSION=1.25.3\"]"),
        ("{{json .Config.Cmd}}", "[\"nginx\",\"-g\",\"daemon off;\"]"),
        ("{{json .Config.Entrypoint}}", "null"),
        ("{{json .RootFS}}", "{\"Type\":\"layers\",\"Layers\":[\"sha256:1\",\"sha256:2\",\"sha256:3\",\"sha256:4\",\"sha256:5\",\"sha256:6\",\"sha256:7\"]}"),
        ("{{json .Config.Labels}}", "{\"maintainer\":\"NGINX Docker Maintainers <docker-maint@nginx.com>\"}"),
        ("{{range .RepoTags}}{{.}} {{end}}", "nginx:latest nginx:1.25 "),
        ("{{join .Config.Env \",\"}}", "PATH=/usr/local/sbin:/usr/local/bin,NGINX_VERSION=1.25.3"),
        ("{{.Config.Labels}}", "map[maintainer:NGINX Docker Maintainers <docker-maint@nginx.com>]"),
        ("{{index .Config.Labels \"maintainer\"}}", "NGINX Docker Maintainers <docker-maint@nginx.com>"),
        ("{{index .Config.Labels \"nope\"}}|", "|"),
        ("{{.Config.Labels.nope}}", "<no value>"),
        ("{{.Config.Labels.nope.deeper}}", "<no value>"),
        ("{{printf \"%-10s|\" .Os}}", "linux     |"),
        ("{{printf \"%.19s\" .Id}}", "sha256:a8758716bb6a"),
        ("{{upper .Os}}", "LINUX"),
        ("{{title \"hello world\"}}", "Hello World"),
        ("{{truncate .Id 12}}", "sha256:a8758"),
        ("[{{pad .Os 2 3}}]", "[  linux   ]"),
        ("a  {{- .Os -}}  b", "alinuxb"),
        ("{{if eq .Os \"linux\"}}yes{{else}}no{{end}}", "yes"),
        ("{{if eq .Os \"windows\"}}yes{{else if eq .Architecture \"amd64\"}}amd{{else}}no{{end}}", "amd"),
        ("{{.Config.Env}}", "[PATH=/usr/local/sbin:/usr/local/bin NGINX_VERSION=1.25.3]"),
        ("{{.Config.Entrypoint}}", "<nil>"),
        ("{{.RootFS}}", "{layers [sha256:1 sha256:2 sha256:3 sha256:4 sha256:5 sha256:6 sha256:7]}"),
        ("{{.GraphDriver}}", "{overlay2 map[MergedDir:/m UpperDir:/u]}"),
        ("{{range $k, $v := .GraphDriver.Data}}{{$k}}={{$v}};{{end}}", "MergedDir=/m;UpperDir=/u;"),
        ("{{range $i, $t := .RepoTags}}{{$i}}:{{$t}} {{end}}", "0:nginx:latest 1:nginx:1.25 "),
        ("{{range .Config.Labels.nothing}}x{{else}}empty{{end}}", "empty"),
        ("{{with .Config.StopSignal}}{{.}}{{end}}", "SIGQUIT"),
        ("{{with .Config.Labels.nothing}}x{{else}}none{{end}}", "none"),
        ("{{$id := .Id}}{{range .RepoTags}}{{$.Os}}/{{.}} {{end}}", "linux/nginx:latest linux/nginx:1.25 "),
        ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
        ("{{.Os | printf \"%q\"}}", "\"linux\""),
        ("{{(index .RepoTags 1) | upper}}", "NGINX:1.25"),
        ("{{(index .RootFS.Layers 0)}}", "sha256:1"),
        ("{{(.RootFS).Type}}", "layers"),
        ("{{index .RepoTags 0 | len}}", "12"),
        ("{{split (index .RepoTags 0) \":\"}}", "[nginx latest]"),
        ("{{range split \"a,b\" \",\"}}<{{.}}>{{end}}", "<a><b>"),
        ("{{lower \"ABC\"}} {{println \"x\" 1}}", "abc x 1\n"),
        ("{{print 1 2 \"a\" 3}}", "1 2a3"),
        ("{{/* a comment */}}ok", "ok"),
        ("{{- /* trimmed */ -}}  ok", "ok"),
        ("{{and 1 0 2}} {{or 0 \"\" \"x\"}} {{not .Os}}", "0 x false"),
        ("{{and .Os .Architecture}}", "amd64"),
        ("{{if and (eq .Os \"linux\") (gt .Size 1000)}}big{{end}}", "big"),
        ("{{lt 1 2}} {{le 2 2}} {{ge 1.5 2.5}} {{ne .Os \"x\"}}", "true true false true"),
        ("{{3.0}} {{1e6}} {{0.5}} {{'a'}} {{0x10}}", "3 1e+06 0.5 97 16"),
        ("{{\"raw\"}} {{`back`}} {{true}}", "raw back true"),
        ("{{slice .Os 1 3}} {{slice .RepoTags 1}}", "in [nginx:1.25]"),
        ("{{html \"<b>\"}} {{js \"it's\"}} {{urlquery \"a b\"}}", "&lt;b&gt; it\\'s a+b"),
        ("{{range $i, $e := .RepoTags}}{{if $i}},{{end}}{{$e}}{{end}}", "nginx:latest,nginx:1.25"),
        ("{{range .RepoTags}}{{if eq . \"nginx:latest\"}}{{continue}}{{end}}{{.}}{{end}}", "nginx:1.25"),
        ("{{range .RepoTags}}{{.}}{{break}}{{end}}", "nginx:latest"),
        ("{{range 3}}{{.}}{{end}}", "012"),
        ("{{define \"tag\"}}[{{.}}]{{end}}{{range .RepoTags}}{{template \"tag\" .}}{{end}}", "[nginx:latest][nginx:1.25]"),
        ("{{block \"b\" .Os}}<{{.}}>{{end}}", "<linux>"),
        ("{{len .Config.Labels}} {{len .Os}}", "1 5"),
        ("{{printf \"%v %d %5.1f|%x\" .RepoTags .Size 3.14159 255}}", "[nginx:latest nginx:1.25] 187000000   3.1|ff"),
        ("{{printf \"%s\"}}", "%!s(MISSING)"),
        ("{{printf \"%d\" .Os}}", "%!d(string=linux)"),
    ];
    for (src, want) in cases {
        let got = run(src, &data);
        assert_eq!(got.as_deref(), Ok(*want), "format {src:?}");
    }
}

#[test]
fn json_of_struct_keeps_field_order() {
    let data = Value::from_json(
        &json!({"Zeta": 1, "Alpha": {"b": 2, "a": 1}, "Mid": [true, null, 1.5]}),
        &[],
    );
    assert_eq!(
        run("{{json .}}", &data).as_deref(),
        Ok("{\"Zeta\":1,\"Alpha\":{\"b\":2,\"a\":1},\"Mid\":[true,null,1.5]}")
    );
    let mapped = Value::from_json(&json!({"Alpha": {"b": 2, "a": 1}}), &["Alpha"]);
    assert_eq!(
        run("{{json .}}", &mapped).as_deref(),
        Ok("{\"Alpha\":{\"a\":1,\"b\":2}}")
    );
    // Docker's encoder does not escape HTML characters.
    let html = Value::String("<a&b>".into());
    assert_eq!(run("{{json .}}", &html).as_deref(), Ok("\"<a&b>\""));
}

#[test]
fn errors_match_go() {
    let data = image();
    let parse = |s: &str| Err::<String, _>(TemplateError::Parse(s.to_string()));
    let exec = |s: &str| Err::<String, _>(TemplateError::Exec(s.to_string()));
    let cases = [
        ("{{nope .Os}}", parse("template: :1: function \"nope\" not defined")),
        ("{{.Os", parse("template: :1: unclosed action")),
        ("{{.Os}", parse("template: :1: unexpected \"}\" in operand")),
        ("{{if .Os}}x", parse("template: :1: unexpected EOF")),
        ("{{.Nope}}", exec("template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope")),
        ("x\n {{.Config.Nope}}", exec("template: :2:10: executing \"\" at <.Config.Nope>: can't evaluate field Nope")),
        ("{{.Os.Foo}}", exec("template: :1:5: executing \"\" at <.Os.Foo>: can't evaluate field Foo in type string")),
        ("{{.Config.Entrypoint.X}}", exec("template: :1:9: executing \"\" at <.Config.Entrypoint.X>: nil pointer evaluating interface {}.X")),
        ("{{len .Size}}", exec("template: :1:2: executing \"\" at <len .Size>: error calling len: len of type int")),
        ("{{index .RepoTags 5}}", exec("template: :1:2: executing \"\" at <index .RepoTags 5>: error calling index: index out of range: 5")),
        ("{{upper .Size}}", exec("template: :1:8: executing \"\" at <.Size>: wrong type for value; expected string; got int")),
        ("{{upper 3}}", exec("template: :1:8: executing \"\" at <3>: expected string; found 3")),
        ("{{truncate .Os}}", exec("template: :1:2: executing \"\" at <truncate>: wrong number of args for truncate: want 2 got 1")),
        ("{{join .Os \",\"}}", exec("template: :1:7: executing \"\" at <.Os>: wrong type for value; expected []string; got string")),
        ("{{eq .Os 1}}", exec("template: :1:2: executing \"\" at <eq .Os 1>: error calling eq: incompatible types for comparison: string and int")),
        ("{{range .Os}}{{end}}", exec("template: :1:8: executing \"\" at <.Os>: range can't iterate over linux")),
        ("{{template \"x\"}}", exec("template: :1:11: executing \"\" at <{{template \"x\"}}>: template \"x\" not defined")),
        ("{{.Os 1}}", exec("template: :1:2: executing \"\" at <.Os>: Os has arguments but cannot be invoked as function")),
        ("{{1 2}}", exec("template: :1:2: executing \"\" at <1>: can't give argument to non-function 1")),
        ("{{nil}}", exec("template: :1:2: executing \"\" at <nil>: nil is not a command")),
        ("{{upper .Missing}}", exec("template: :1:8: executing \"\" at <.Missing>: can't evaluate field Missing")),
        ("{{upper .Config.Labels.x}}", exec("template: :1:15: executing \"\" at <.Config.Labels.x>: invalid value; expected string")),
        ("{{define \"t\"}}{{.Nope}}{{end}}{{template \"t\" .}}", exec("template: :1:16: executing \"t\" at <.Nope>: can't evaluate field Nope")),
    ];
    for (src, want) in cases {
        assert_eq!(run(src, &data), want, "format {src:?}");
    }
}

#[test]
fn runaway_recursion_is_an_error() {
    let src = "{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" .}}";
    let r = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || run(src, &Value::Nil))
        .map(|h| h.join());
    match r {
        Ok(Ok(Err(TemplateError::Exec(msg)))) => {
            assert!(
                msg.ends_with("exceeded maximum template depth (1000)"),
                "{msg}"
            );
        }
        other => panic!("unexpected result {other:?}"),
    }
}

#[test]
fn header_rendering() {
    let tmpl = Template::parse(
        "{{.Repository}}\t{{upper .Tag}}\t{{json .Labels}}\t{{truncate .ID 3}}|{{pad .Size 1 1}}|",
    );
    let headers = Value::from_json(
        &json!({"Repository": "REPOSITORY", "Tag": "TAG", "Labels": "LABELS", "ID": "IMAGE ID", "Size": "SIZE"}),
        &[],
    );
    let got = tmpl.and_then(|t| t.execute_header(&headers));
    assert_eq!(
        got.as_deref(),
        Ok("REPOSITORY\tTAG\tLABELS\tIMAGE ID| SIZE |")
    );
}

#[test]
fn table_prefix() {
    assert_eq!(
        split_table("table {{.ID}}\t{{.Tag}}"),
        Some(" {{.ID}}\t{{.Tag}}")
    );
    assert_eq!(split_table("table"), Some(""));
    assert_eq!(split_table("{{.ID}}"), None);
}

#[test]
fn execute_into_reuses_buffer() {
    let tmpl = Template::parse("{{.}},");
    let mut out = String::new();
    let r = tmpl.and_then(|t| {
        t.execute_into(&Value::Int(1), &mut out)?;
        t.execute_into(&Value::Int(2), &mut out)
    });
    assert_eq!(r, Ok(()));
    assert_eq!(out, "1,2,");
}

/// `kujira images` runs one template per row; a thousand rows must take a
/// small fraction of the command's 20 ms budget.
#[test]
fn thousand_rows_are_fast() {
    let rows: Vec<Value> = (0..1000)
        .map(|i| {
            Value::Struct(vec![
                ("Repository".into(), format!("repo{i}").into()),
                ("Tag".into(), "latest".into()),
                ("ID".into(), "a8758716bb6a".into()),
                ("CreatedSince".into(), "2 weeks ago".into()),
                ("Size".into(), "187MB".into()),
            ])
        })
        .collect();
    let tmpl = Template::parse("{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}");
    let start = std::time::Instant::now();
    let mut out = String::new();
    let r = tmpl.map(|t| {
        for row in &rows {
            if t.execute_into(row, &mut out).is_err() {
                return false;
            }
            out.push('\n');
        }
        true
    });
    let elapsed = start.elapsed();
    assert_eq!(r, Ok(true));
    assert!(out.starts_with("repo0\tlatest\ta8758716bb6a\t2 weeks ago\t187MB\n"));
    // Generous for unoptimised test builds on a loaded machine.
    assert!(elapsed.as_millis() < 200, "took {elapsed:?}");
}

#[test]
fn nested_recursion_stays_within_a_small_stack() {
    let ifs = "{{if 1}}".repeat(50) + "{{template \"r\" $}}" + &"{{end}}".repeat(50);
    let src = format!("{{{{define \"r\"}}}}{{{{range .L}}}}{{{{with .}}}}{ifs}{{{{end}}}}{{{{end}}}}{{{{end}}}}{{{{template \"r\" .}}}}");
    let data = Value::Struct(vec![("L".into(), Value::List(vec![Value::Int(1)]))]);
    let r = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || run(&src, &data).map_err(|e| e.to_string()))
        .map(|h| h.join());
    match r {
        Ok(Ok(Err(msg))) => assert!(msg.contains("exceeded maximum template depth"), "{msg}"),
        other => panic!("unexpected result {other:?}"),
    }
}

/// Garbage in must come back as an error or output, never a panic.
#[test]
fn arbitrary_input_never_panics() {
    const PIECES: &[&str] = &[
        "{{.Os}}",
        "{{range .RepoTags}}",
        "{{range $k, $v := .Config.Labels}}",
        "{{end}}",
        "{{else}}",
        "{{if .Size}}",
        "{{with .Config}}",
        "{{.}}",
        "{{$x := .Size}}",
        "{{$x}}",
        "{{index .RepoTags 0}}",
        "{{printf \"%5.2f|%x|%q\" 1.5 .Os .RepoTags}}",
        "{{json .}}",
        "{{len .}}",
        "{{eq . 1}}",
        "{{slice . 1}}",
        "{{",
        "}}",
        "{{-",
        " -}}",
        "-",
        " ",
        "\n",
        ".",
        ".A",
        ".Os",
        "$",
        "$x",
        ":=",
        "=",
        "|",
        "(",
        ")",
        ",",
        "\"s\"",
        "\"",
        "`r`",
        "`",
        "'a'",
        "'",
        "\\",
        "3",
        "-1",
        "0x",
        "1e",
        "1.5",
        "é",
        "😀",
        "if",
        "else",
        "end",
        "range",
        "with",
        "define",
        "template",
        "block",
        "break",
        "continue",
        "nil",
        "true",
        "printf",
        "\"%v%d%[9]s%*.*f%\"",
        "index",
        "slice",
        "len",
        "json",
        "split",
        "join",
        "pad",
        "truncate",
        "and",
        "or",
        "eq",
        "lt",
        "call",
        "/*",
        "*/",
        "html",
        "js",
        "urlquery",
        "print",
        "upper",
        "title",
    ];
    let data = image();
    let mut parsed = 0;
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..20_000 {
        let mut src = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (seed % 12) as usize + 1;
        for _ in 0..n {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            src.push_str(PIECES[(seed % PIECES.len() as u64) as usize]);
        }
        if let Ok(t) = Template::parse(&src) {
            parsed += 1;
            let _ = t.execute(&data);
            let _ = t.execute(&Value::Nil);
        }
    }
    // Enough inputs get past the parser to exercise execution too.
    assert!(parsed > 1_000, "only {parsed} parsed");
}

#[test]
fn template_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Template>();
    assert_send_sync::<Value>();
    assert_send_sync::<TemplateError>();
}
