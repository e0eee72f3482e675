"""Realistic Chinese names and their pinyin e-mail addresses, from a seeded RNG.

Surnames are weighted roughly by how common they are, so the roster looks like a real staff list (many
王, 李, 张 …, a few 欧阳). Every character carries its pinyin so e-mail addresses read like a college's
(``wangjianguo@…``); a name met twice gets a number, as mail administrators do.
"""

from __future__ import annotations

import random

# (surname, pinyin, weight)
SURNAMES: list[tuple[str, str, int]] = [
    ("王", "wang", 72), ("李", "li", 71), ("张", "zhang", 68), ("刘", "liu", 53), ("陈", "chen", 46),
    ("杨", "yang", 32), ("赵", "zhao", 21), ("黄", "huang", 20), ("周", "zhou", 19), ("吴", "wu", 19),
    ("徐", "xu", 15), ("孙", "sun", 14), ("胡", "hu", 12), ("朱", "zhu", 12), ("高", "gao", 12),
    ("林", "lin", 10), ("何", "he", 10), ("郭", "guo", 10), ("马", "ma", 10), ("罗", "luo", 8),
    ("梁", "liang", 8), ("宋", "song", 7), ("郑", "zheng", 7), ("谢", "xie", 6), ("韩", "han", 6),
    ("唐", "tang", 6), ("冯", "feng", 6), ("于", "yu", 6), ("董", "dong", 5), ("萧", "xiao", 5),
    ("程", "cheng", 5), ("曹", "cao", 5), ("袁", "yuan", 5), ("邓", "deng", 5), ("许", "xu", 5),
    ("傅", "fu", 4), ("沈", "shen", 4), ("曾", "zeng", 4), ("彭", "peng", 4), ("吕", "lv", 4),
    ("苏", "su", 4), ("卢", "lu", 4), ("蒋", "jiang", 4), ("蔡", "cai", 4), ("贾", "jia", 3),
    ("丁", "ding", 3), ("魏", "wei", 3), ("薛", "xue", 3), ("叶", "ye", 3), ("阎", "yan", 3),
    ("潘", "pan", 3), ("杜", "du", 3), ("戴", "dai", 3), ("夏", "xia", 3), ("钟", "zhong", 3),
    ("汪", "wang", 3), ("田", "tian", 3), ("任", "ren", 3), ("姜", "jiang", 3), ("范", "fan", 3),
    ("方", "fang", 3), ("石", "shi", 3), ("姚", "yao", 3), ("谭", "tan", 2), ("廖", "liao", 2),
    ("邹", "zou", 2), ("熊", "xiong", 2), ("金", "jin", 2), ("陆", "lu", 2), ("郝", "hao", 2),
    ("孔", "kong", 2), ("白", "bai", 2), ("崔", "cui", 2), ("康", "kang", 2), ("毛", "mao", 2),
    ("邱", "qiu", 2), ("秦", "qin", 2), ("江", "jiang", 2), ("史", "shi", 2), ("顾", "gu", 2),
    ("侯", "hou", 2), ("邵", "shao", 2), ("孟", "meng", 2), ("龙", "long", 2), ("万", "wan", 2),
    ("段", "duan", 2), ("钱", "qian", 2), ("汤", "tang", 2), ("尹", "yin", 2), ("黎", "li", 2),
    ("易", "yi", 1), ("常", "chang", 1), ("武", "wu", 1), ("乔", "qiao", 1), ("贺", "he", 1),
    ("赖", "lai", 1), ("龚", "gong", 1), ("文", "wen", 1), ("关", "guan", 1), ("欧阳", "ouyang", 1),
    ("司马", "sima", 1), ("隋", "sui", 1), ("佟", "tong", 1), ("刁", "diao", 1),
]

# (character, pinyin): characters that are common in given names of people born 1960–2000.
GIVEN_CHARS: list[tuple[str, str]] = [
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"),
    ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀", "xiu"),
    ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("桂", "gui"), ("英", "ying"), ("华", "hua"),
    ("建", "jian"), ("国", "guo"), ("志", "zhi"), ("红", "hong"), ("海", "hai"), ("燕", "yan"),
    ("鹏", "peng"), ("宇", "yu"), ("浩", "hao"), ("凯", "kai"), ("晶", "jing"), ("婷", "ting"),
    ("雪", "xue"), ("慧", "hui"), ("佳", "jia"), ("琳", "lin"), ("俊", "jun"), ("波", "bo"),
    ("辉", "hui"), ("斌", "bin"), ("宁", "ning"), ("欣", "xin"), ("瑞", "rui"), ("玲", "ling"),
    ("晨", "chen"), ("春", "chun"), ("冬", "dong"), ("东", "dong"), ("立", "li"), ("新", "xin"),
    ("文", "wen"), ("晓", "xiao"), ("亮", "liang"), ("峰", "feng"), ("岩", "yan"), ("松", "song"),
    ("林", "lin"), ("成", "cheng"), ("永", "yong"), ("长", "chang"), ("玉", "yu"), ("兰", "lan"),
    ("梅", "mei"), ("萍", "ping"), ("丹", "dan"), ("颖", "ying"), ("璐", "lu"), ("楠", "nan"),
    ("博", "bo"), ("鑫", "xin"), ("旭", "xu"), ("阳", "yang"), ("帆", "fan"), ("飞", "fei"),
    ("鸿", "hong"), ("彬", "bin"), ("振", "zhen"), ("宏", "hong"), ("庆", "qing"), ("福", "fu"),
    ("德", "de"), ("忠", "zhong"), ("万", "wan"), ("金", "jin"), ("卫", "wei"), ("光", "guang"),
    ("天", "tian"), ("思", "si"), ("雨", "yu"), ("子", "zi"), ("一", "yi"), ("嘉", "jia"),
    ("怡", "yi"), ("倩", "qian"), ("蕾", "lei"), ("薇", "wei"), ("莹", "ying"), ("爽", "shuang"),
    ("微", "wei"), ("铁", "tie"), ("胜", "sheng"), ("利", "li"), ("民", "min"), ("喜", "xi"),
    ("学", "xue"), ("秋", "qiu"), ("月", "yue"), ("清", "qing"), ("泽", "ze"), ("远", "yuan"),
    ("然", "ran"), ("畅", "chang"), ("悦", "yue"),
]


class NameMaker:
    """Draws names from a seeded RNG and hands out unique e-mail local parts."""

    def __init__(self, rng: random.Random, domain: str) -> None:
        self.rng = rng
        self.domain = domain
        self._surnames = list(SURNAMES)
        self._weights = [w for _, _, w in SURNAMES]
        self._locals: dict[str, int] = {}

    def name(self) -> tuple[str, str]:
        """A (name, pinyin) pair such as (“王建国”, “wangjianguo”)."""
        surname, surname_py, _ = self.rng.choices(self._surnames, self._weights)[0]
        length = 1 if self.rng.random() < 0.28 else 2
        chars = [self.rng.choice(GIVEN_CHARS) for _ in range(length)]
        if length == 2 and chars[0][0] == chars[1][0] and self.rng.random() < 0.7:
            chars[1] = self.rng.choice(GIVEN_CHARS)
        return surname + "".join(c for c, _ in chars), surname_py + "".join(p for _, p in chars)

    def email(self, pinyin: str) -> str:
        """A unique address: the second 王伟 becomes ``wangwei2@…``."""
        n = self._locals.get(pinyin, 0) + 1
        self._locals[pinyin] = n
        local = pinyin if n == 1 else f"{pinyin}{n}"
        return f"{local}@{self.domain}"
