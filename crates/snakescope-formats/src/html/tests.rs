use super::*;
use crate::fixture::{capture, empty_capture, exact_capture};
use snakescope_model::{Frame, Memory, MemorySite};

fn fake_read(path: &str) -> Source {
    match path {
        "/src/app.py" => Source::Text {
            text: (1..=30).map(|i| format!("line {i} </script>\n")).collect(),
            modified: Some(1_000.0),
        },
        "/src/util.py" => Source::Text {
            text: "def helper():\n    pass\n".into(),
            modified: Some(1_795_000_100.0),
        },
        _ => Source::Unavailable("file not found".into()),
    }
}

fn page(capture: &Capture) -> String {
    let mut out = Vec::new();
    write_with(capture, &fake_read, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The text of `<script type="application/json" id="ID">`, parsed.
fn json_block(html: &str, id: &str) -> serde_json::Value {
    let open = format!("<script type=\"application/json\" id=\"{id}\">");
    let start = html.find(&open).expect("json block") + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

#[test]
fn one_document_with_every_section() {
    let html = page(&capture());
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(html.trim_end().ends_with("</html>"));
    assert!(html.contains("<title>snakescope: python3 app.py --size &#39;big one&#39;</title>"));
    for (id, _) in SECTIONS {
        assert_eq!(
            html.matches(&format!("<section id=\"{id}\"")).count(),
            1,
            "{id}"
        );
    }
    assert!(html.contains("<section id=\"memory\" hidden>"));
    // Three scripts: the two data blocks and the inlined program; one style.
    assert_eq!(html.matches("<script").count(), 3);
    assert_eq!(html.matches("</script>").count(), 3);
    assert_eq!(html.matches("<style>").count(), 1);
}

#[test]
fn self_contained() {
    let html = page(&capture());
    for needle in [
        "src=",
        "href=\"http",
        "@import",
        "url(",
        "<link",
        "fetch(",
        "XMLHttpRequest",
    ] {
        assert!(!html.contains(needle), "the page refers to {needle}");
    }
    for asset in [CSS, JS, JS_MEASURED] {
        assert!(
            !asset.contains("</script"),
            "an asset would end its element"
        );
        assert!(!asset.contains("</style"), "an asset would end its element");
    }
}

#[test]
fn embeds_the_capture_unchanged() {
    let html = page(&capture());
    let value = json_block(&html, "snakescope-capture");
    let back: Capture = serde_json::from_value(value).unwrap();
    assert_eq!(back, capture());
}

#[test]
fn embeds_the_hottest_sources_safely() {
    let html = page(&capture());
    let sources = json_block(&html, "snakescope-sources");
    let files = sources["files"].as_array().unwrap();
    // app.py: self 80, total 90; util.py: self 20, total 20;
    // threading.py: total 10 (10 %), never a leaf.
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "/src/app.py",
            "/src/util.py",
            "/usr/lib/python3.11/threading.py"
        ]
    );
    assert_eq!(files[0]["self_samples"], 80);
    assert_eq!(files[0]["total_samples"], 90);
    assert_eq!(files[0]["modified_after_recording"], false);
    assert!(files[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("line 1 </script>\n"));
    assert_eq!(files[1]["modified_after_recording"], true);
    assert_eq!(files[2]["unavailable"], "file not found");
    assert!(files[2].get("text").is_none());
    // The source's `</script>` is escaped inside the JSON block.
    assert!(!html.contains("line 1 </script>"));
    assert!(html.contains("line 1 \\u003c/script>"));
}

#[test]
fn empty_capture_is_still_a_page() {
    let html = page(&empty_capture());
    assert!(html.contains("<section id=\"flame\">"));
    assert_eq!(
        json_block(&html, "snakescope-sources")["files"],
        serde_json::json!([])
    );
}

#[test]
fn memory_and_other_new_keys_reach_the_page() {
    // A capture JSON carrying a key this build does not model is embedded as given.
    let json = br#"{"format":"snakescope-capture","memory":{"note":"<b>"}}"#;
    let mut out = Vec::new();
    write_document("x", SECTIONS, (json, b"{\"files\":[]}"), None, &mut out).unwrap();
    let html = String::from_utf8(out).unwrap();
    assert_eq!(
        json_block(&html, "snakescope-capture")["memory"]["note"],
        "<b>"
    );
}

#[test]
fn files_that_allocated_are_annotated_too() {
    let mut capture = capture();
    capture.frames.push(Frame {
        function: "load".into(),
        qualname: None,
        file: "/src/alloc.py".into(),
        line: 3,
    });
    capture.frames.push(Frame {
        function: "tiny".into(),
        qualname: None,
        file: "/src/tiny.py".into(),
        line: 1,
    });
    let site = |frames: Vec<usize>, allocated_bytes| MemorySite {
        frames,
        allocated_bytes,
        ..MemorySite::default()
    };
    capture.memory = Some(Memory {
        mode: "exact".into(),
        sites: vec![
            site(vec![0, 5], 100_000),
            site(vec![0, 6], 10),
            site(vec![], 5),
        ],
        ..Memory::default()
    });
    let mut out = Vec::new();
    super::write_with(&capture, &fake_read, &mut out).unwrap();
    let html = String::from_utf8(out).unwrap();
    let files = json_block(&html, "snakescope-sources")["files"].clone();
    let paths: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/src/app.py",
            "/src/util.py",
            "/usr/lib/python3.11/threading.py",
            "/src/alloc.py"
        ]
    );
    assert_eq!(files[3]["allocated_bytes"], 100_000);
    assert_eq!(files[3]["self_samples"], 0);
    // The memory section reaches the page as recorded.
    assert_eq!(
        json_block(&html, "snakescope-capture")["memory"],
        serde_json::to_value(capture.memory.as_ref().unwrap()).unwrap()
    );
}

#[test]
fn reads_real_files_and_says_why_not() {
    let dir = std::env::temp_dir().join(format!("snakescope-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a.py");
    std::fs::write(&file, "x = 1\n").unwrap();
    match read_source(file.to_str().unwrap()) {
        Source::Text { text, modified } => {
            assert_eq!(text, "x = 1\n");
            assert!(modified.unwrap() > 1.0e9);
        }
        other => panic!("{other:?}"),
    }
    let missing = dir.join("missing.py");
    assert_eq!(
        read_source(missing.to_str().unwrap()),
        Source::Unavailable("file not found".into())
    );
    assert_eq!(
        read_source("<frozen importlib._bootstrap>"),
        Source::Unavailable("not a file".into())
    );
    assert_eq!(
        read_source(dir.to_str().unwrap()),
        Source::Unavailable("not a regular file".into())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The ids of the page's sections, in order, and whether each is hidden.
fn section_ids(html: &str) -> Vec<(String, bool)> {
    html.split("<section id=\"")
        .skip(1)
        .map(|rest| {
            let (id, after) = rest.split_once('"').unwrap();
            (id.to_owned(), after.starts_with(" hidden"))
        })
        .collect()
}

#[test]
fn an_exact_capture_leads_with_its_measured_sections() {
    let html = page(&exact_capture());
    let ids = section_ids(&html);
    let ids: Vec<(&str, bool)> = ids.iter().map(|(id, h)| (id.as_str(), *h)).collect();
    assert_eq!(
        ids,
        [
            ("findings", false),
            ("exact", false),
            ("lines", false),
            ("flame", false),
            ("memory", true)
        ]
    );
    assert!(html.contains("<section id=\"exact\"><h2>Exact calls</h2>"));
    assert!(html.contains("<section id=\"lines\"><h2>Line timings</h2>"));
    // The views that draw them are inlined, before the program that calls them.
    let measured = html.find("views.exact = function").unwrap();
    assert!(measured < html.find("section('exact'").unwrap());
    let back: Capture = serde_json::from_value(json_block(&html, "snakescope-capture")).unwrap();
    assert_eq!(back, exact_capture());
}

#[test]
fn sampled_pages_add_measured_sections_only_when_present() {
    let ids = |c: &Capture| -> Vec<String> {
        section_ids(&page(c))
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    };
    let plain: Vec<String> = SECTIONS.iter().map(|(id, _)| (*id).to_owned()).collect();
    assert_eq!(ids(&capture()), plain);
    let mut with_lines = capture();
    with_lines.lines = exact_capture().lines;
    assert_eq!(
        ids(&with_lines),
        [
            "findings",
            "flame",
            "tree",
            "functions",
            "source",
            "lines",
            "threads",
            "memory"
        ]
    );
}

#[test]
fn hostile_names_and_source_in_measured_sections_stay_text() {
    let mut c = exact_capture();
    let hostile = "fib</script><img src=x onerror=alert(1)>\x1b[31m";
    c.frames[1].function = hostile.into();
    c.frames[1].qualname = Some(hostile.into());
    c.lines.as_mut().unwrap().functions[0].source[1] = "    </script><b>bold</b>\r".into();
    let mut out = Vec::new();
    crate::write(&c, crate::Format::Html, &mut out).unwrap();
    let html = String::from_utf8(out).unwrap();
    assert!(!html.contains("<img"), "a name became markup");
    assert!(!html.contains("<b>bold"), "source became markup");
    assert_eq!(html.matches("</script>").count(), 3);
    // Control characters are shown, not sent (printable), and the strings reach the page intact.
    let data = json_block(&html, "snakescope-capture");
    assert_eq!(
        data["frames"][1]["function"],
        "fib</script><img src=x onerror=alert(1)>\\x1b[31m"
    );
    assert_eq!(
        data["lines"]["functions"][0]["source"][1],
        "    </script><b>bold</b>\\x0d"
    );
    // The views only ever set text: no markup is built from strings.
    for js in [JS, JS_MEASURED] {
        assert!(!js.contains("innerHTML") && !js.contains("insertAdjacentHTML"));
    }
}

#[test]
fn sampled_instructions_go_under_their_lines() {
    use snakescope_model::{CodeSamples, InstructionSamples, Opcodes};
    let mut capture = capture();
    assert!(
        json_block(&page(&capture), "snakescope-sources")["files"][0]
            .get("instructions")
            .is_none()
    );
    // Without a table each code unit is shown as `<opcode>`.
    let sample = |offset, line, self_samples, total| InstructionSamples {
        offset,
        line,
        self_samples,
        total,
    };
    capture.opcodes = Some(Opcodes {
        codes: vec![CodeSamples {
            function: "work".into(),
            file: "/src/app.py".into(),
            first_line: 10,
            bytecode: "0100070208000900".into(),
            line_starts: vec![[0, 10], [4, 12]],
            self_samples: 8,
            total_samples: 9,
            instructions: vec![sample(4, 12, 5, 5), sample(6, 12, 3, 4)],
            ..CodeSamples::default()
        }],
        ..Opcodes::default()
    });
    let files = json_block(&page(&capture), "snakescope-sources")["files"].clone();
    assert_eq!(files[0]["path"], "/src/app.py");
    assert_eq!(
        files[0]["instructions"],
        serde_json::json!({"12": [
            {"offset": 4, "name": "<8>", "arg": 0, "self": 5, "total": 5},
            {"offset": 6, "name": "<9>", "arg": 0, "self": 3, "total": 4}]})
    );
    assert!(files[1].get("instructions").is_none());
}

#[test]
fn given_sources_stand_for_files_that_are_not_on_disk() {
    // A cell's code, named as IPython names it: no file, its text handed in.
    let mut c = capture();
    for f in &mut c.frames {
        if f.file == "/usr/lib/python3.11/threading.py" {
            f.file = "<ipython-input-3-0123abcd>".into();
        }
    }
    let given = std::collections::HashMap::from([(
        "<ipython-input-3-0123abcd>".to_owned(),
        "def hot():\n    return sum(range(9))\n".to_owned(),
    )]);
    let mut out = Vec::new();
    write_given(&c, &given, &mut out).unwrap();
    let html = String::from_utf8(out).unwrap();
    let files = json_block(&html, "snakescope-sources")["files"].clone();
    let cell = files
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "<ipython-input-3-0123abcd>")
        .expect("the cell is annotated");
    assert_eq!(cell["text"], "def hot():\n    return sum(range(9))\n");
    assert!(cell.get("unavailable").is_none());
    assert_eq!(cell["modified_after_recording"], false);
}
