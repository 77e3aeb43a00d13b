"""The tree shows the architecture: imports run one way (README, Layout).

pages and jobs -> api / web plumbing / wiring -> domain packages -> foundation
(models, database, clock, errors, ...). Nothing points back up, and the
domain packages depend on each other without cycles.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent
# Lowest first. A module may import its own layer and those below it.
LAYERS = {
    "foundation": ("tessera.config", "tessera.clock", "tessera.errors", "tessera.models",
                   "tessera.database", "tessera.migrate", "tessera.migrations",
                   "tessera.languages", "tessera.links", "tessera.events", "tessera.audit",
                   "tessera.embedded", "tessera.redis_client"),
    "domain": ("tessera.sites", "tessera.queue", "tessera.printing", "tessera.planning",
               "tessera.voice",
               "tessera.status", "tessera.staff", "tessera.appointments",
               "tessera.messages", "tessera.devices", "tessera.reports"),
    "web": ("tessera.stores", "tessera.web", "tessera.api"),
    "entry points": ("tessera.cli", "tessera.__main__", "kiosk", "display", "counter",
                     "manager", "booking", "admin", "worker", "tessera"),
}
ORDER = list(LAYERS)
DOMAIN = LAYERS["domain"]


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name of ours (the longest matching prefix), else None."""
    best = None
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                    best is None or len(prefix) > len(best[1])):
                best = (layer, prefix)
    return best[0] if best else None


def package_of(module: str, prefixes: tuple[str, ...]) -> str | None:
    """Which of `prefixes` a module belongs to."""
    return next((p for p in prefixes if module == p or module.startswith(p + ".")), None)


def our_modules() -> dict[str, Path]:
    """Every Python module of the application (not tests, benchmarks or migrations)."""
    modules = {}
    for top in ("tessera", "kiosk", "display", "counter", "manager", "booking", "admin",
                "worker"):
        for path in (ROOT / top).rglob("*.py"):
            if "versions" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def imports_of(path: Path) -> set[str]:
    """The modules a file imports, top-level and inside functions alike."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def import_edges() -> list[tuple[str, str]]:
    """(importer, imported) for every import between our own modules."""
    modules = our_modules()
    edges = []
    for name, path in modules.items():
        for imported in imports_of(path):
            if imported in modules and imported != name:
                edges.append((name, imported))
    return edges


def test_every_module_has_a_layer():
    assert [name for name in our_modules() if layer_of(name) is None] == []


def upward(edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The imports that point from a lower layer to a higher one."""
    return [(importer, imported) for importer, imported in edges
            if ORDER.index(layer_of(imported)) > ORDER.index(layer_of(importer))]


def cycle(edges: list[tuple[str, str]]) -> list[str] | None:
    """A cycle among the domain packages that these imports make, if any."""
    depends = {package: set() for package in DOMAIN}
    for importer, imported in edges:
        source, target = package_of(importer, DOMAIN), package_of(imported, DOMAIN)
        if source and target and source != target:
            depends[source].add(target)
    done, path = set(), []

    def visit(package):
        if package in path:
            return [*path[path.index(package):], package]
        if package in done:
            return None
        path.append(package)
        for target in sorted(depends[package]):
            found = visit(target)
            if found:
                return found
        path.pop()
        done.add(package)
        return None

    return next((found for found in map(visit, DOMAIN) if found), None)


def test_imports_never_point_up_a_layer():
    assert upward(import_edges()) == []


def test_nothing_in_tessera_imports_a_page_blueprint_or_a_job():
    pages_and_jobs = ("kiosk", "display", "counter", "manager", "booking", "admin", "worker")
    wrong = [(importer, imported) for importer, imported in import_edges()
             if importer.split(".")[0] == "tessera"
             and imported.split(".")[0] in pages_and_jobs]
    assert wrong == []


def test_domain_packages_depend_on_each_other_without_cycles():
    assert cycle(import_edges()) is None


def test_the_checks_catch_what_they_look_for():
    assert upward([("tessera.queue.engine", "tessera.web.auth"),
                   ("kiosk", "tessera.queue.engine")]) == [
        ("tessera.queue.engine", "tessera.web.auth")]
    assert upward([("tessera.models", "tessera.sites.catalogue")]) != []
    assert cycle([("tessera.queue.live", "tessera.planning.forecast"),
                  ("tessera.planning.forecast", "tessera.queue.live")]) == [
        "tessera.queue", "tessera.planning", "tessera.queue"]
