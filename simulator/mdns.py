"""Announce the simulator over mDNS/DNS-SD with python-zeroconf (WoT Discovery section 6.3).

Services registered for a simulator listening on ``host:port``:

- one ``_wot._tcp.local.`` instance per TD-dialect Thing, TXT ``td=/things/<slug>``,
  ``type=Thing``, ``scheme=http``;
- the directory as ``_directory._sub._wot._tcp.local.`` (and, per RFC 6763 section 7.1, as a
  plain ``_wot._tcp.local.`` instance too), TXT ``td=/.well-known/wot``, ``type=Directory``,
  ``scheme=http``;
- the WebThings server as ``_webthing._tcp.local.``, TXT ``path=/webthings/``.

python-zeroconf answers a subtype-registered service only under its subtype, and keeps one
registration per instance name, so the directory's subtype PTR is answered by a second
:class:`~zeroconf.asyncio.AsyncZeroconf` on the same interface (identical SRV/TXT/A records from
two responders are not a conflict, RFC 6762 section 9).

Only advertise on an address and network you own (or inside a private network namespace):
multicast reaches every host on the link. Both responders bind to the listen address only
(``interfaces=[host]``), which must be a specific IPv4 address.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import ipaddress

from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

WOT_TYPE = "_wot._tcp.local."
DIRECTORY_SUBTYPE = "_directory._sub._wot._tcp.local."
WEBTHING_TYPE = "_webthing._tcp.local."


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One DNS-SD service instance: its instance name, type, TXT record, and subtype if any."""

    instance: str
    type: str
    txt: dict[str, str] = field(default_factory=dict)
    subtype: str | None = None

    @classmethod
    def thing(cls, instance: str, td_path: str) -> ServiceSpec:
        """A Thing whose TD is at ``td_path``."""
        return cls(instance, WOT_TYPE, {"td": td_path, "type": "Thing", "scheme": "http"})

    @classmethod
    def directory(cls, instance: str, td_path: str) -> ServiceSpec:
        """A Thing Description Directory whose own TD is at ``td_path``."""
        txt = {"td": td_path, "type": "Directory", "scheme": "http"}
        return cls(instance, WOT_TYPE, txt, DIRECTORY_SUBTYPE)

    @classmethod
    def webthing(cls, instance: str, path: str) -> ServiceSpec:
        """A WebThings server whose description (or list of them) is at ``path``."""
        return cls(instance, WEBTHING_TYPE, {"path": path})


class Advertiser:
    """Registers :class:`ServiceSpec` services for ``host:port`` until stopped."""

    def __init__(self, host: str, port: int, services: list[ServiceSpec]) -> None:
        """Prepare the announcements (nothing is sent before :meth:`start`)."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"mDNS needs an IP address to listen on, got {host!r}") from None
        if address.version != 4 or address.is_unspecified:
            raise ValueError(f"mDNS needs a specific IPv4 listen address, got {host!r}")
        self.host = host
        self.port = port
        self.server = f"thingbridge-sim-{port}.local."
        self.services = services
        self.infos: list[ServiceInfo] = []
        self._zeroconfs: list[AsyncZeroconf] = []

    def _info(self, spec: ServiceSpec, type_: str) -> ServiceInfo:
        return ServiceInfo(
            type_,
            f"{spec.instance}.{spec.type}",
            port=self.port,
            properties=spec.txt,
            server=self.server,
            parsed_addresses=[self.host],
        )

    async def start(self) -> None:
        """Probe for unique names and announce every service (renaming on a clash)."""
        main = AsyncZeroconf(interfaces=[self.host], ip_version=IPVersion.V4Only)
        self._zeroconfs.append(main)
        primary = [(main, self._info(spec, spec.type)) for spec in self.services]
        subtyped = [spec for spec in self.services if spec.subtype]
        pairs = list(primary)
        if subtyped:
            extra = AsyncZeroconf(interfaces=[self.host], ip_version=IPVersion.V4Only)
            self._zeroconfs.append(extra)
            pairs += [(extra, self._info(spec, spec.subtype or spec.type)) for spec in subtyped]
        self.infos = [info for _zc, info in pairs]
        announced = await asyncio.gather(
            *(zc.async_register_service(info, allow_name_change=True) for zc, info in pairs)
        )
        await asyncio.gather(*announced)

    async def stop(self) -> None:
        """Send goodbye packets and close the responders."""
        zeroconfs, self._zeroconfs = self._zeroconfs, []
        for zc in zeroconfs:
            await zc.async_unregister_all_services()
            await zc.async_close()
