"""Config subset parser and merge semantics (in-process)."""
import pytest

from k3s import config, flags, yamlsub


def load(tmp_path, base=None, dropins=None, args=(), env=None):
    cfg = tmp_path / "config.yaml"
    if base is not None:
        cfg.write_text(base)
    if dropins:
        d = tmp_path / "config.yaml.d"
        d.mkdir()
        for name, text in dropins.items():
            (d / name).write_text(text)
    e = {"K3S_CONFIG_FILE": str(cfg)}
    e.update(env or {})
    out, files = config.load(list(args), e)
    return out, files


def test_scalars_lists_and_comments():
    pairs = dict(yamlsub.parse(
        "# comment\n---\ntoken: abc # trailing\nq: 'it''s'\ndq: \"a\\tb\"\n"
        "node-label:\n  - a=b\n  - 'c=d'\ntls-san: [x, 'y', \"z\"]\nkubelet-arg:\n- k=v\n"
        "long: one\n  two\n"))
    assert pairs["token"] == "abc"
    assert pairs["q"] == "it's"
    assert pairs["dq"] == "a\tb"
    assert pairs["node-label"] == ["a=b", "c=d"]
    assert pairs["tls-san"] == ["x", "y", "z"]
    assert pairs["kubelet-arg"] == ["k=v"]
    assert pairs["long"] == "one two"


@pytest.mark.parametrize("raw,expected", [
    ("true", "true"), ("yes", "true"), ("off", "false"), ("~", ""), ("", ""),
    ("0644", "420"),  # yaml.v2 (YAML 1.1) octal: a real K3s gotcha
    ("644", "644"), ("0x10", "16"), ("1.0", "1"), ("abc", "abc"),
])
def test_yaml11_resolution(raw, expected):
    (_, v), = yamlsub.parse("k: %s\n" % raw)
    assert yamlsub.to_string(v) == expected


def test_quoted_scalars_are_not_resolved():
    (_, v), = yamlsub.parse('k: "0644"\n')
    assert yamlsub.to_string(v) == "0644"


@pytest.mark.parametrize("text", [
    "a:\n  b: c\n",           # nested mapping
    "a: |\n  x\n",            # block scalar
    "a: &x 1\n",              # anchor
    "a: *x\n",                # alias
    "- a\n",                  # top-level list
    'a: "unterminated\n',     # multi-line quoted
    "a:\n\t- x\n",            # tab indentation
    "a: b: c\n",              # mapping value in plain scalar
    "a:\n  - [1]\n",          # nested list
    "a: {b: c}\n",            # flow mapping
    "a: [1, 2\n",             # unterminated flow list
    "a: 1\n---\nb: 2\n",      # multiple documents
    "just text\n",            # no key
])
def test_outside_subset_is_rejected(text):
    with pytest.raises(yamlsub.YamlError):
        yamlsub.parse(text)


def test_last_file_wins_and_dropin_order(tmp_path):
    out, files = load(tmp_path, "node-name: base\ncluster-dns: 10.43.0.10\n",
                      {"20-b.yaml": "node-name: twenty\n", "10-a.YML": "node-name: ten\n",
                       "30-c.txt": "node-name: ignored\n", "40-d.Yaml": "cluster-dns: 10.43.0.11\n"})
    assert [f.rsplit("/", 1)[-1] for f in files] == ["config.yaml", "10-a.YML", "20-b.yaml", "40-d.Yaml"]
    assert out == ["--node-name=twenty", "--cluster-dns=10.43.0.11"]


def test_plus_appends(tmp_path):
    out, _ = load(tmp_path, "node-label:\n  - a=1\ntls-san: one\n",
                  {"10.yaml": "node-label+:\n  - b=2\ntls-san+: two\n", "20.yaml": "node-label+: c=3\n"})
    assert out == ["--node-label=a=1", "--node-label=b=2", "--node-label=c=3",
                   "--tls-san=one", "--tls-san=two"]


def test_later_plain_key_overwrites_accumulated(tmp_path):
    out, _ = load(tmp_path, "node-label: [a=1]\n", {"10.yaml": "node-label+: [b=2]\n", "20.yaml": "node-label: [z=9]\n"})
    assert out == ["--node-label=z=9"]


def test_missing_base_uses_dropins(tmp_path):
    out, files = load(tmp_path, None, {"10.yaml": "t: secret\n"})
    assert out == ["-t=secret"]
    assert len(files) == 1


def test_missing_everything_is_fine(tmp_path):
    assert load(tmp_path) == ([], [])


def test_parse_error_names_file(tmp_path):
    with pytest.raises(config.ConfigError) as ei:
        load(tmp_path, "a:\n  b: c\n")
    assert "config.yaml" in str(ei.value)


def test_env_config_file_checked_before_flag(tmp_path):
    a = tmp_path / "a.yaml"
    a.write_text("node-name: from-env\n")
    b = tmp_path / "b.yaml"
    b.write_text("node-name: from-flag\n")
    out, _ = config.load(["--config", str(b)], {"K3S_CONFIG_FILE": str(a)})
    assert out == ["--node-name=from-env"]
    out, _ = config.load(["-c=%s" % b], {})
    assert out == ["--node-name=from-flag"]


def test_strip_invalid_warns():
    warnings = []
    kept = config.strip_invalid(["--node-name=x", "--bogus=1", "-t=y"], flags.SERVER.valid_names(), warnings.append)
    assert kept == ["--node-name=x", "-t=y"]
    assert warnings == ["Unknown flag --bogus found in config.yaml, skipping"]


def test_precedence_cli_config_env_default():
    cfg, _ = flags.parse(flags.SERVER, ["--node-name=cfg", "--node-label=a=1", "--node-label=b=2", "--tls-san=x,y"])
    cli, _ = flags.parse(flags.SERVER, ["--node-label", "c=3"])
    env = {"K3S_NODE_NAME": "env", "K3S_TOKEN": "envtok", "K3S_DATA_DIR": "/d"}
    o, src = flags.resolve(flags.SERVER, cfg, cli, env)
    assert o["node-name"] == "cfg" and src["node-name"] == "config"
    assert o["node-label"] == ["c=3"]            # CLI replaces config list
    assert o["tls-san"] == ["x", "y"]            # comma split for tls-san
    assert o["token"] == "envtok" and src["token"] == "env"
    assert o["https-listen-port"] == 6443 and src["https-listen-port"] == "default"
    cli2, _ = flags.parse(flags.SERVER, ["--node-name=cli"])
    o2, _ = flags.resolve(flags.SERVER, cfg, cli2, env)
    assert o2["node-name"] == "cli"


def test_kubelet_arg_not_comma_split():
    v, _ = flags.parse(flags.SERVER, ["--kubelet-arg=feature-gates=A=true,B=false"])
    assert v["kubelet-arg"] == ["feature-gates=A=true,B=false"]


@pytest.mark.parametrize("args,msg", [
    (["--bogus"], "flag provided but not defined: -bogus"),
    (["--token"], "flag needs an argument: -token"),
    (["--cluster-init=maybe"], 'invalid boolean value "maybe" for -cluster-init: parse error'),
    (["--https-listen-port=abc"], 'invalid value "abc" for flag -https-listen-port: parse error'),
    (["---x"], "bad flag syntax: ---x"),
])
def test_flag_errors(args, msg):
    with pytest.raises(flags.FlagError) as ei:
        flags.parse(flags.SERVER, args)
    assert str(ei.value) == msg


def test_agent_rejects_server_only_flags():
    with pytest.raises(flags.FlagError):
        flags.parse(flags.AGENT, ["--cluster-init"])
    with pytest.raises(flags.FlagError):
        flags.parse(flags.AGENT, ["--disable=traefik"])
