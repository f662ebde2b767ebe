"""Regenerate the brand images in custom_components/thingbridge/brand/ (needs Pillow and DejaVu fonts)."""

from PIL import Image, ImageDraw, ImageFont


def icon(size):
    """Draw the square icon."""
    s = size / 256
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle([8 * s, 8 * s, 248 * s, 248 * s], radius=48 * s, fill=(3, 169, 244, 255))
    # bridge deck and arch
    d.arc([40 * s, 70 * s, 216 * s, 230 * s], start=180, end=360, fill="white", width=int(14 * s))
    d.rectangle([30 * s, 150 * s, 226 * s, 164 * s], fill="white")
    for x in (78, 128, 178):
        d.line(
            [x * s, 150 * s, x * s, (98 if x == 128 else 112) * s], fill="white", width=int(8 * s)
        )
    # nodes at both ends
    for cx in (40, 216):
        d.ellipse(
            [(cx - 18) * s, (157 - 18) * s, (cx + 18) * s, (157 + 18) * s],
            fill=(255, 193, 7, 255),
            outline="white",
            width=int(5 * s),
        )
    return im


icon(256).save("custom_components/thingbridge/brand/icon.png")
icon(512).save("custom_components/thingbridge/brand/icon@2x.png")


def logo(h):
    """Draw the icon followed by the name."""
    s = h / 128
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", int(64 * s))
    text = "ThingBridge"
    tw = font.getlength(text)
    w = int(h + 16 * s + tw + 8 * s)
    im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    im.paste(icon(h), (0, 0))
    d = ImageDraw.Draw(im)
    d.text((h + 16 * s, h / 2), text, font=font, fill=(3, 120, 190, 255), anchor="lm")
    return im


logo(128).save("custom_components/thingbridge/brand/logo.png")
logo(256).save("custom_components/thingbridge/brand/logo@2x.png")
