"""pflag-like command-line parsing for the kubeadm and kubelet doubles.

``--name=value``, ``--name value``, boolean ``--name`` / ``--name=false``,
one-letter shorthands (``-f``, ``-o json``, ``-v=5``), ``--`` ends flags.
Repeated flags: the last wins, except for list flags (comma-separated values
are split and accumulated, like pflag's StringSlice).
"""


class FlagError(Exception):
    pass


class Spec:
    def __init__(self, flags, shorthands=None):
        # flags: name -> kind ("bool", "str", "int", "list", "strarray")
        self.flags = dict(flags)
        self.short = dict(shorthands or {})


def parse(args, spec):
    """Returns (values dict, positional args, set of names given)."""
    vals, pos, given = {}, [], set()
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            pos.extend(args[i + 1:])
            break
        if not a.startswith("-") or a == "-":
            pos.append(a)
            i += 1
            continue
        if a.startswith("--"):
            name, eq, val = a[2:].partition("=")
        else:
            s, eq, val = a[1:].partition("=")
            if s[:1] not in spec.short:
                raise FlagError("unknown shorthand flag: %r in %s" % (s[:1], a))
            name = spec.short[s[:1]]
            if len(s) > 1 and not eq:
                eq, val = "=", s[1:]
        if name not in spec.flags:
            raise FlagError("unknown flag: --%s" % name)
        kind = spec.flags[name]
        if kind == "bool":
            if eq:
                if val.lower() not in ("true", "false", "1", "0", "t", "f"):
                    raise FlagError('invalid argument "%s" for "--%s" flag: strconv.ParseBool: parsing "%s": '
                                    'invalid syntax' % (val, name, val))
                v = val.lower() in ("true", "1", "t")
            else:
                v = True
        else:
            if not eq:
                if i + 1 >= len(args):
                    raise FlagError("flag needs an argument: --%s" % name)
                i += 1
                val = args[i]
            if kind == "int":
                try:
                    v = int(val)
                except ValueError:
                    raise FlagError('invalid argument "%s" for "--%s" flag: strconv.ParseInt: parsing "%s": '
                                    'invalid syntax' % (val, name, val))
            elif kind == "list":
                v = list(vals.get(name, [])) + [x for x in val.split(",") if x != ""]
            elif kind == "strarray":
                v = list(vals.get(name, [])) + [val]
            else:
                v = val
        vals[name] = v
        given.add(name)
        i += 1
    return vals, pos, given
