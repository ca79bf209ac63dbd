"""The man pages dbxfs(1), dbxctl(1) and dbxd(8), as the build makes them
from the .scd source beside each program (tools/cmake/manpage.cmake).

For each page:
  - the build made it, and the .gz that is installed holds the same page;
  - its .TH line names the program and the section;
  - man(1) and groff render it without a warning, and lexgrog finds its
    NAME line (what whatis/apropos index);
  - every option, -o option and subcommand that `PROGRAM --help` (and, for
    dbxctl, `dbxctl COMMAND --help`) prints is in the page, in bold: a new
    option in the help text fails this test until the page has it. A
    dbxctl command's own options must be in the page's section of that
    command (`## NAME` in the .scd);
  - every option the source defines (the fuse_opt templates of
    fs/local/options.c, the option table of backend/config.c and the commands of
    backend/main.c, the getopt_long tables and command table of
    tools/dbxctl) is in the page too, so an option added to the code but
    left out of --help fails as well;
and `cmake --install` (into a DESTDIR) puts the pages in man1 and man8.

The build tree is $DBX_BUILD_DIR (default: build/ in this checkout,
/work/main/build); it must be built (`cmake --build`). Self-contained: no
conftest, only the standard library, pytest, man-db and groff.
"""
import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("DBX_BUILD_DIR") or REPO / "build").resolve()

# program -> (binary, page: relative to the build tree; section)
PROGRAMS = {
    "dbxfs": ("fs/dbxfs", "fs/dbxfs.1", "1"),
    "dbxd": ("backend/dbxd", "backend/dbxd.8", "8"),
    "dbxctl": ("tools/dbxctl/dbxctl", "tools/dbxctl/dbxctl.1", "1"),
}

# A C locale with UTF-8, no pager, a fixed width: the same output anywhere.
ENV = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8", MANPAGER="cat",
           PAGER="cat", MANWIDTH="80")
ENV.pop("MANOPT", None)


# ---- helpers ----

def build_file(rel):
    path = BUILD / rel
    if not path.exists():
        pytest.fail(f"{path} is missing: build the tree first "
                    f"(cmake -S {REPO} -B {BUILD} && cmake --build {BUILD}), "
                    f"or point DBX_BUILD_DIR at a built tree")
    return path


def page_path(prog):
    return build_file(PROGRAMS[prog][1])


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV,
                          timeout=60, **kw)


def help_text(prog, *args):
    """`PROG ARGS --help`, which must succeed and print to stdout."""
    binary = build_file(PROGRAMS[prog][0])
    p = run([str(binary), *args, "--help"])
    assert p.returncode == 0, f"{prog} {' '.join(args)} --help: exit {p.returncode}: {p.stderr}"
    assert p.stdout.strip(), f"{prog} {' '.join(args)} --help printed nothing"
    return p.stdout


def unescape_roff(s):
    """The text of a piece of scdoc's roff, as a reader sees it."""
    s = s.replace("\\&", "").replace("\\-", "-").replace("\\(aq", "'")
    s = s.replace("\\*(Aq", "'").replace("\\e", "\\").replace("\\\\", "\\")
    return s


def bold_tokens(roff):
    """Every word set in bold (\\fB...\\fR): split at blanks, commas and
    |[](), trailing punctuation dropped; "name=VALUE" also gives "name=" and
    "name", so *-o server=*_URL_ and *--port*=_N_ both count."""
    tokens = set()
    for span in re.findall(r"\\fB(.*?)\\f[RPI]", roff, re.S):
        for word in re.split(r"[\s,|\[\]()]+", unescape_roff(span)):
            word = word.rstrip(".;:")
            if not word:
                continue
            tokens.add(word)
            if "=" in word[1:]:
                name = word[: word.index("=")]
                tokens.update({name + "=", name})
    return tokens


def sections(roff):
    """{title: roff} for every .SH and .SS of the page."""
    out, title, body = {}, None, []
    for line in roff.splitlines():
        m = re.match(r'\.(SH|SS)\s+"?(.*?)"?\s*$', line)
        if m:
            if title is not None:
                out[title] = "\n".join(body)
            title, body = unescape_roff(m.group(2)), []
        else:
            body.append(line)
    if title is not None:
        out[title] = "\n".join(body)
    return out


LONG = re.compile(r"(?<![\w-])--[a-z][a-z0-9_-]*")
SHORT = re.compile(r"(?<![\w-])-[A-Za-z](?![\w-])")


def dash_options(text):
    return set(LONG.findall(text)) | set(SHORT.findall(text))


def missing_from(tokens, roff):
    return sorted(t for t in tokens if t not in bold_tokens(roff))


# ---- what each program's --help names ----

def block(text, heading):
    """The lines after the line starting with heading, up to a blank line."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(heading):
            out = []
            for rest in lines[i + 1:]:
                if not rest.strip():
                    break
                out.append(rest)
            return out
    pytest.fail(f"no '{heading}' in the help text:\n{text}")


def o_names(items):
    """-o words as the page must show them: "server=URL" -> "server=",
    "comment=*" -> "comment=", "[no]suid" -> suid and nosuid."""
    out = set()
    for item in items:
        item = item.strip().rstrip(".")
        if not item or item == "...":
            continue
        m = re.fullmatch(r"\[no\](\w+)", item)
        if m:
            out.update({m.group(1), "no" + m.group(1)})
        elif "=" in item:
            out.add(item[: item.index("=") + 1])
        else:
            out.add(item)
    return out


def dbxfs_help_tokens():
    text = help_text("dbxfs")
    tokens = dash_options(text)
    # "dbxfs options (-o):" is a two-column list: the term is what comes
    # before a run of two blanks on a line indented by two.
    for line in block(text, "dbxfs options (-o):"):
        if re.match(r"  \S", line):
            term = re.split(r"\s{2,}", line.strip())[0]
            tokens |= o_names(term.split(","))
    # "FUSE options (-o): a, b, ..." runs on over the next lines.
    fuse = text[text.index("FUSE options (-o):") + len("FUSE options (-o):"):]
    fuse = fuse.split("\n\n")[0]
    tokens |= o_names(re.split(r"[,\s]+", fuse))
    # "-o debug" and the like among the flags
    tokens |= set(re.findall(r"-o ([a-z_]+)\b", text))
    assert len(tokens) > 40, f"too few options found in dbxfs --help: {sorted(tokens)}"
    return tokens


def dbxd_help_tokens():
    text = help_text("dbxd")
    tokens = dash_options(text)
    # the usage lines: "usage: dbxd [serve] ...", "       dbxd useradd ..."
    commands = set(re.findall(r"^(?:usage:)?\s*dbxd \[?([a-z]+)\]?", text, re.M))
    assert {"serve", "useradd"} <= commands, f"no commands found in dbxd --help:\n{text}"
    assert len(tokens) > 15, f"too few options found in dbxd --help: {sorted(tokens)}"
    return tokens | commands


def dbxctl_commands():
    text = help_text("dbxctl")
    names = [line.split()[0] for line in block(text, "commands:")]
    assert len(names) >= 5, f"no commands found in dbxctl --help:\n{text}"
    return text, names


# ---- the pages exist, are named right, and render cleanly ----

@pytest.mark.parametrize("prog", sorted(PROGRAMS))
def test_page_built_and_compressed_copy_matches(prog):
    page = page_path(prog)
    gz = build_file(PROGRAMS[prog][1] + ".gz")
    assert gzip.decompress(gz.read_bytes()) == page.read_bytes(), \
        f"{gz} does not hold {page}: rebuild"
    # gzip -n: no name or time in the header, so the .gz is reproducible
    assert gz.read_bytes()[4:8] == b"\0\0\0\0", f"{gz} carries a timestamp (gzip without -n)"


@pytest.mark.parametrize("prog", sorted(PROGRAMS))
def test_page_header_names_program_and_section(prog):
    roff = page_path(prog).read_text(encoding="utf-8")
    m = re.search(r'^\.TH "?([^" ]+)"? "?(\w+)"?', roff, re.M)
    assert m, f"no .TH line in {prog}'s page"
    assert (m.group(1), m.group(2)) == (prog, PROGRAMS[prog][2])
    assert "@DBX_VERSION@" not in roff, "the version placeholder was not replaced"


@pytest.mark.parametrize("prog", sorted(PROGRAMS))
def test_page_renders_without_warnings(prog):
    page = page_path(prog)
    man, groff = shutil.which("man"), shutil.which("groff")
    if not man or not groff:
        pytest.fail("man and groff are needed (Debian: man-db groff-base; tools/install-deps.sh)")
    p = run([man, "--warnings", "-E", "UTF-8", "-l", str(page)])
    assert p.returncode == 0 and p.stderr == "", f"man {page}:\n{p.stderr}"
    assert "NAME" in p.stdout and prog in p.stdout
    # every groff warning, not only man's selection
    p = run([groff, "-man", "-ww", "-z", "-k", str(page)])
    assert p.returncode == 0 and p.stderr == "", f"groff {page}:\n{p.stderr}"
    lexgrog = shutil.which("lexgrog")
    if lexgrog:   # part of man-db: what mandb indexes for whatis/apropos
        p = run([lexgrog, str(page)])
        assert p.returncode == 0 and f"{prog} - " in p.stdout, f"lexgrog {page}: {p.stdout}{p.stderr}"


# ---- every option of --help is in the page ----

def test_dbxfs_page_has_every_help_option():
    roff = page_path("dbxfs").read_text(encoding="utf-8")
    missing = missing_from(dbxfs_help_tokens(), roff)
    assert not missing, f"in `dbxfs --help` but not (in bold) in dbxfs(1): {missing}"


def test_dbxd_page_has_every_help_option_and_command():
    roff = page_path("dbxd").read_text(encoding="utf-8")
    missing = missing_from(dbxd_help_tokens(), roff)
    assert not missing, f"in `dbxd --help` but not (in bold) in dbxd(8): {missing}"


def test_dbxctl_page_has_every_command_and_option():
    roff = page_path("dbxctl").read_text(encoding="utf-8")
    secs = sections(roff)
    text, names = dbxctl_commands()
    # not the lines that quote dbxd's own commands (dbxd useradd -d ...)
    own = "\n".join(l for l in text.splitlines() if not re.match(r"\s*dbxd\b", l))
    top = dash_options(own) | set(names)
    if re.search(r"\bhelp COMMAND\b", text):
        top.add("help")
    missing = missing_from(top, roff)
    assert not missing, f"in `dbxctl --help` but not (in bold) in dbxctl(1): {missing}"
    common = dash_options("\n".join(block(help_text("dbxctl", names[0]), "common options:")))
    missing_common = missing_from(common, secs.get("OPTIONS", ""))
    assert not missing_common, f"common options not under OPTIONS in dbxctl(1): {missing_common}"
    problems = []
    for name in names:
        sub = help_text("dbxctl", name)
        if name not in secs:
            problems.append(f"no section '## {name}'")
            continue
        own = dash_options(sub) - common
        lost = missing_from(own, secs[name])
        if lost:
            problems.append(f"{name}: {lost} not in bold in its section")
    assert not problems, "dbxctl(1) and `dbxctl COMMAND --help` differ:\n" + "\n".join(problems)


# ---- every option the code defines is in the page ----

def source(rel):
    path = REPO / rel
    assert path.exists(), f"{path} is gone: update this test"
    return path.read_text(encoding="utf-8")


def test_dbxfs_page_has_every_option_of_the_code():
    text = source("fs/local/options.c")
    names = set(re.findall(r'FUSE_OPT_KEY\("([^"]+)"', text))
    names |= set(re.findall(r'\b(?:FLAG|KEEP|DROP)\("([^"]+)"', text))
    assert len(names) > 40, f"fs/local/options.c: too few templates found: {sorted(names)}"
    tokens = set(names)
    if re.search(r'strncmp\(arg, "x-", 2\)', text):
        tokens.add("x-*")
    missing = missing_from(tokens, page_path("dbxfs").read_text(encoding="utf-8"))
    assert not missing, f"options of fs/local/options.c not (in bold) in dbxfs(1): {missing}"


def test_dbxd_page_has_every_option_of_the_code():
    config, main = source("backend/config.c"), source("backend/main.c")
    # the entries of options[] (indented: not the #define lines)
    fields = re.findall(r"^\s+STR\((\w+),", config, re.M)
    fields += re.findall(r"^\s+NUM\(\w+, (\w+),", config, re.M)
    assert len(fields) > 15, f"backend/config.c: too few options found: {fields}"
    tokens = {"--" + f.replace("_", "-") for f in fields}
    # short options (short_option()), then aliases, -h, --help and
    # --version: the string literals that are a whole option
    tokens |= {"-" + c for c in re.findall(r"case '(\w)': return \"", config)}
    for text in (config, main):
        tokens |= set(re.findall(r'"(--?[a-z][a-z_-]*)"', text))
    commands = set(re.findall(r'strcmp\(cmd, "(\w+)"\)', main))
    assert {"serve", "useradd", "gc"} <= commands, f"backend/main.c: commands not found: {commands}"
    missing = missing_from(tokens | commands, page_path("dbxd").read_text(encoding="utf-8"))
    assert not missing, f"options of backend/{{config,main}}.c not (in bold) in dbxd(8): {missing}"


def test_dbxctl_page_has_every_option_of_the_code():
    texts = {p.name: p.read_text(encoding="utf-8")
             for p in (REPO / "tools/dbxctl").glob("*.[ch]")}
    assert texts, "tools/dbxctl has no sources"
    longs, commands = set(), set()
    for text in texts.values():
        longs |= {"--" + n for n in
                  re.findall(r'\{"([a-z][a-z-]*)",\s*(?:no|required|optional)_argument', text)}
        commands |= set(re.findall(r'const struct ctl_cmd ctl_cmd_\w+ = \{\s*"(\w+)"', text))
    assert len(longs) >= 8 and len(commands) >= 5, \
        f"tools/dbxctl: too few options or commands found: {sorted(longs)} {sorted(commands)}"
    roff = page_path("dbxctl").read_text(encoding="utf-8")
    missing = missing_from(longs | commands, roff)
    assert not missing, f"options and commands of tools/dbxctl not (in bold) in dbxctl(1): {missing}"
    absent = sorted(c for c in commands if c not in sections(roff))
    assert not absent, f"commands of tools/dbxctl without a section in dbxctl(1): {absent}"


# ---- cmake --install puts them in man1 and man8 ----

def cache_value(name, default):
    cache = build_file("CMakeCache.txt").read_text(encoding="utf-8", errors="replace")
    m = re.search(rf"^{name}:\w+=(.*)$", cache, re.M)
    return m.group(1) if m and m.group(1) else default


def test_install_puts_pages_in_mandir(tmp_path):
    cmake = shutil.which("cmake")
    assert cmake, "cmake is needed"
    # DESTDIR, not --prefix: some install() rules use absolute paths
    # (CMAKE_INSTALL_FULL_SYSCONFDIR), which --prefix would not move.
    env = dict(ENV, DESTDIR=str(tmp_path))
    p = subprocess.run([cmake, "--install", str(BUILD)], capture_output=True,
                       text=True, env=env, timeout=300)
    assert p.returncode == 0, f"cmake --install failed:\n{p.stdout}{p.stderr}"
    prefix = cache_value("CMAKE_INSTALL_PREFIX", "/usr/local")
    mandir = cache_value("CMAKE_INSTALL_MANDIR", "share/man")
    root = Path(mandir) if os.path.isabs(mandir) else Path(prefix) / mandir
    root = tmp_path / root.relative_to("/")
    for prog, (_, rel, section) in PROGRAMS.items():
        installed = root / f"man{section}" / f"{prog}.{section}.gz"
        assert installed.is_file(), f"{installed} was not installed:\n{p.stdout}"
        assert gzip.decompress(installed.read_bytes()) == page_path(prog).read_bytes()
        assert installed.stat().st_mode & 0o777 == 0o644
