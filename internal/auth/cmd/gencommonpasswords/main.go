// Command gencommonpasswords writes internal/auth/common_passwords.txt: the
// list of passwords registration refuses. It is generated from the patterns
// people actually choose (common words and names with digit and symbol
// suffixes, capitalised or leet-spelled, keyboard walks, repeated and
// sequential digits, years), not downloaded. Run it with go generate in
// internal/auth.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

var words = strings.Fields(`password passw0rd pass qwerty qwertyuiop asdf asdfgh asdfghjkl zxcvbnm letmein welcome
admin administrator root login master secret iloveyou love lovely loveme trustno1 dragon monkey football
baseball basketball soccer hockey tennis golf superman batman spiderman starwars pokemon naruto princess
sunshine shadow michael jennifer jordan hunter ranger buster thomas robert daniel andrew joshua matthew
charlie jessica ashley amanda nicole michelle hannah samantha summer winter spring autumn flower cookie
chocolate banana orange apple cheese pepper ginger tigger killer hello freedom whatever computer internet
access changeme default guest user test tester testing abc abcd abcdef qazwsx azerty mustang harley
ferrari porsche corvette mercedes yankees cowboys eagles lakers chelsea arsenal liverpool barcelona
maggie bailey buddy daisy lucky molly angel angels baby babygirl jesus christ blessed heaven
forever family friends happy smile secret1 magic matrix ninja pirate dolphin butterfly rainbow
purple yellow silver golden diamond crystal thunder lightning phoenix falcon eagle wolf tiger lion
bear panther cheetah hammer soldier warrior knight wizard merlin gandalf hello123 welcome1 office
company server database oracle mysql postgres system manager backup service support
football1 iloveu mylove sweety sweetheart darling honey cupcake kitty kitten puppy doggy
money dollar rich cash bitcoin crypto business market london paris berlin madrid tokyo newyork
california texas florida america canada england germany france india china brazil mexico`)

var suffixes = []string{"", "1", "12", "123", "1234", "12345", "123456", "!", "1!", "123!", "01", "007", "69", "99", "00",
	"2020", "2021", "2022", "2023", "2024", "2025", "2026", "@123", "#1", "11", "22", "321"}

func main() {
	set := map[string]bool{}
	add := func(s string) {
		if len(s) >= 6 {
			set[strings.ToLower(s)] = true
		}
	}
	for _, w := range words {
		for _, suf := range suffixes {
			add(w + suf)
			add(leet(w) + suf)
		}
	}
	// Digit runs, repeats and sequences.
	for n := 6; n <= 12; n++ {
		for d := '0'; d <= '9'; d++ {
			add(strings.Repeat(string(d), n))
		}
		add("1234567890123"[:n])
		add("0987654321098"[:n])
		add("9876543210987"[:n])
	}
	for _, s := range []string{"123123", "112233", "121212", "123321", "654321", "696969", "111222", "abc123", "a1b2c3",
		"1q2w3e", "1q2w3e4r", "1q2w3e4r5t", "q1w2e3r4", "zaq12wsx", "1qaz2wsx", "qweasd", "qweasdzxc", "asdf1234",
		"qwer1234", "zxcv1234", "password!", "p@ssword", "p@ssw0rd", "aa123456", "qwerty123", "iloveyou1"} {
		add(s)
	}
	// Years and dates people use.
	for y := 1950; y <= 2030; y++ {
		for _, p := range []string{"", "01", "12", "jan", "may"} {
			add(fmt.Sprintf("%s%d", p, y))
			add(fmt.Sprintf("%d%s", y, p))
		}
	}
	// Keyboard walks.
	rows := []string{"qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890", "!@#$%^&*()"}
	for _, r := range rows {
		for i := 0; i+6 <= len(r); i++ {
			for j := i + 6; j <= len(r); j++ {
				add(r[i:j])
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	if err := os.WriteFile("common_passwords.txt", []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(len(out), "passwords")
}

func leet(w string) string {
	return strings.NewReplacer("a", "@", "o", "0", "e", "3", "i", "1", "s", "$").Replace(w)
}
